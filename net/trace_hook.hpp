#pragma once
// The trace a real process writes for `ccp real` (app/real_cmd.cpp): every delivery to an
// application and every request's outcome, as JSON lines in the simulator's vocabulary
// ("deliver", "complete"; sim/world_checks.cpp), on this process's clock (now_micros,
// CLOCK_MONOTONIC: one clock for every process of the machine) minus the run's start.
// Real lines carry what the simulator's checker reads in full: a delivery's destination,
// a completion's replies (sender and kind) and group members, where the simulator's lines
// have counts.
//
// A link's life is traced in the simulator's vocabulary too (net/role_host.cpp calls the
// writers below): "dial", "link_up", "link_down", and an agent's "attach" and "detach"
// with the epoch its hello carried. scenarios/README.md, "Trace", documents every event.
//
// Off unless a process opens it (ccp real-node does, before it starts any service): then
// role_host wraps every role's application (traced()). Thread safety: lines are written
// from any strand under one lock.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "core/action.hpp"
#include "core/message.hpp"
#include "host/kernel.hpp"

namespace ccp::net {

class trace_file {
 public:
  // Opens `path` for appending (the process-wide trace; once). Times are written as
  // now - `origin`. Returns an error naming the file when it cannot be opened.
  static std::string open(const std::string& path, core::micros origin);
  // Closes the trace: the writers do nothing from now on (tests; a process keeps its trace
  // until it exits). From any thread: a line being written is written whole first.
  static void close();
  // Whether a trace is open; the line writers do nothing otherwise.
  static bool on() noexcept;
  // Writes `line` (without its newline), unbuffered to the kernel, so that a process
  // killed with SIGKILL loses none of what it wrote.
  static void write(std::string_view line);
  // {"t":..,"ev":KIND, with the time now: the start of a line for the caller to finish.
  static std::string start(std::string_view kind);
};

// {"t":..,"ev":KIND,"at":SELF,"link":ID[,"peer":PEER][,"why":WHY]}: a link of `self` is up
// ("link_up") or down ("link_down"; `why`: the socket's reason, or "closed" when this side
// closed it). An empty peer or why is left out. Nothing when no trace is open.
void trace_link(std::string_view kind, std::string_view self, core::link_id id,
                std::string_view peer, std::string_view why);
// {"t":..,"ev":"dial","at":SELF,"link":ID,"target":URL}.
void trace_dial(std::string_view self, core::link_id id, std::string_view target);
// {"t":..,"ev":KIND,"at":AGENT,"proxy":PROXY,"epoch":E[,"why":WHY]}: the agent `self` is
// attached to `proxy` with epoch `epoch` ("attach") or no longer is ("detach").
void trace_attachment(std::string_view kind, std::string_view self, std::string_view proxy,
                      std::uint64_t epoch, std::string_view why);
// The "epoch" number of a ccp.hello request's body (core/agent.cpp writes it), 0 when the
// body has none.
[[nodiscard]] std::uint64_t hello_epoch(std::string_view body);

// `app` (may be null), wrapped so that its deliveries and completions are traced first;
// `app` itself when no trace is open.
[[nodiscard]] std::unique_ptr<host::application> traced(std::unique_ptr<host::application> app);

}  // namespace ccp::net
