#pragma once
// The network namespaces of one `ccp real` run (app/real_cmd.cpp), made only when a
// scenario has faults that need them (partition_proxy, half_open). Each is
// `ccp-PID-TAG` (PID: the runner's), joined to the machine's namespace by a veth pair
// `ccpPIDTAG` with a private /30 of 10.201.0.0/16 (root side .1, namespace side .2; chosen
// under a lock among the blocks no interface holds). In the namespace, the root side's
// address stands for the machine's loopback: a DNAT rule in the root's nftables table
// `ip ccp_PID` sends what comes in on the veth for that address to 127.0.0.1
// (route_localnet on that veth alone), so a process in the namespace reaches the
// nats-server and the proxies where they listen. Faults are nftables rules in the
// namespace's own table `ip ccp`. Nothing outside loopback and these namespaces is touched.
//
// Everything made is removed by remove() and the destructor (also after a failure or an
// interrupt, as the runner unwinds); what a SIGKILLed runner left is removed by the next
// run's clean_stale(), which takes only names of this form whose PID is not a live `ccp`.

#include <sys/types.h>

#include <string>
#include <vector>

namespace ccp::app {

class real_netns {
 public:
  // One namespace: its name, its veth (root side), and the two addresses.
  struct space {
    std::string name, veth, inside, outside;
  };

  // `scratch`: a folder for the nft scripts it writes (the run's folder).
  explicit real_netns(std::string scratch);
  ~real_netns();
  real_netns(const real_netns&) = delete;
  real_netns& operator=(const real_netns&) = delete;

  // Why this machine cannot make namespaces (not root, `ip` or `nft` missing); empty when
  // it can.
  [[nodiscard]] static std::string unavailable();
  // Removes the namespaces, veths and root tables of runs whose runner is gone; one line
  // per thing removed.
  static std::vector<std::string> clean_stale();

  // Makes namespace ccp-PID-`tag` (tag: [a-z][0-9]+, such as p0 or h1), up and routed.
  // Throws std::runtime_error naming the command that failed.
  const space& add(const std::string& tag);
  // The words that run a command inside `s` (`ip netns exec NAME`).
  [[nodiscard]] std::vector<std::string> exec_prefix(const space& s) const;
  // `url` with 127.0.0.1 replaced by the address that stands for it inside `s`.
  [[nodiscard]] static std::string inside_url(const space& s, std::string url);

  // Drops every packet between `s` and the root side's `port` (both ways, no reset: the
  // connections stay open and hear nothing), until uncut(s).
  void cut(const space& s, int port);
  // Drops the TCP connections that are established from `s` to the root side's `ports`
  // now (both ways), and resets their sockets inside `s`: the namespace's side learns at
  // once that its connection is gone, the other side never does. New connections pass.
  void half_open(const space& s, const std::vector<int>& ports);
  // Removes the fault rules of `s`.
  void uncut(const space& s);
  // Removes everything made (idempotent; never throws). Call after the processes in the
  // namespaces are stopped.
  void remove() noexcept;

  [[nodiscard]] const std::vector<space>& spaces() const noexcept { return spaces_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  void rules(const space& s, const std::string& script);
  std::string scratch_;
  pid_t pid_;
  std::vector<space> spaces_;
  bool table_ = false;  // the root table exists
};

// Whether something accepts TCP connections on host:port (an IPv4 address) now.
[[nodiscard]] bool real_accepts(const std::string& host, int port);

}  // namespace ccp::app
