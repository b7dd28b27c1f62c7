#pragma once
// A small in-process fleet for unit tests of the routing core: buses are maps of
// subjects, links are FIFO queues, time is stepped explicitly, and every delivery has
// zero latency. Every node runs in the host kernel (host/kernel.hpp), as in the simulator
// and the daemons; this harness is only the kernels' world (fresh frame buffer per
// receiver, queue groups choose one member, closing a link tells the other side) and
// records what reached each application. Endpoints run the sample application (they
// answer `echo`). Loops are bounded: run() stops after a fixed number of steps and
// reports it, so a routing loop fails a test instead of hanging it.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/agent.hpp"
#include "core/endpoint.hpp"
#include "core/mgmt.hpp"
#include "core/proxy.hpp"
#include "host/kernel.hpp"
#include "host/written_frames.hpp"

namespace ccp::test {

using namespace ccp::core;

// What one node's application saw.
struct app_log {
  std::vector<message> delivered;                    // act::deliver
  std::map<std::uint64_t, act::complete> completed;  // by request id
  std::size_t completions = 0;                       // every act::complete, to catch duplicates
};

class harness {
 public:
  explicit harness(std::uint64_t seed = 1) : choose_(seed), seed_(seed) {}

  // Builders. Names are the hosts' and ids' text; the returned pointer stays valid until
  // the node is killed.
  core::mgmt* add_mgmt(std::string host, std::string id);
  core::proxy* add_proxy(std::string host, std::string id);
  // An agent on `host` that dials the named proxies ("proxy-host/id") in order.
  core::agent* add_agent(std::string host, std::vector<std::string> proxies,
                         std::string token = "secret", std::uint64_t epoch_base = 0,
                         bool shuffle = false);
  // The proxy's links stop reporting written frames: its link queues fill up.
  void stall_writes(core::proxy* p) { stalled_.insert(p); }
  // An endpoint on `host` that answers "echo" requests with their body.
  core::endpoint* add_endpoint(std::string host, std::string id);

  // Processes queued events until none is left (at most max_steps). Returns false when
  // the bound was hit.
  bool run(std::size_t max_steps = 1'000'000);
  // Advances time by `dt` in steps of at most `step`, running timers and events.
  void advance(micros dt, micros step = 100 * ms);
  [[nodiscard]] micros now() const { return now_; }

  // Faults.
  void kill_proxy(core::proxy* p);  // crash: links drop, subscriptions vanish, state lost
  void kill_agent(core::agent* a);
  void kill_endpoint(core::endpoint* e);  // silent: the agent must expire it
  void stop_endpoint(core::endpoint* e);  // graceful: it unregisters
  // The agent's link breaks on the agent's side only: the proxy still believes it is up.
  void half_open(core::agent* a);

  // Application calls, with the harness's clock; actions are executed at once.
  std::uint64_t request(core::node* n, const std::string& to, const std::string& type,
                        std::string body = "{}", micros timeout = 2 * seconds);
  std::uint64_t send(core::node* n, const std::string& to, const std::string& type,
                     std::string body = "{}");

  // Carries out the actions `n` produced in a call the test made on it directly.
  void run_actions(core::node* n) { after(n); }

  app_log& log(core::node* n) { return logs_[n]; }
  [[nodiscard]] const std::map<core::node*, app_log>& logs() const { return logs_; }
  [[nodiscard]] bool alive(core::node* n) const { return alive_.contains(n); }
  // The completion of request `id` at `n`, if it ended.
  const act::complete* outcome(core::node* n, std::uint64_t id);
  // Total deliveries of message `id` from `from` across all applications.
  [[nodiscard]] std::size_t deliveries(const address& from, std::uint64_t id) const;

  core::proxy* proxy_named(const std::string& name);
  [[nodiscard]] std::size_t malformed_total() const;
  std::function<const credential_verifier&()> verifier;  // optional override

  // Injects a raw frame on an agent's link towards its proxy (tests of bad input).
  void inject_from_agent(core::agent* a, std::string frame);
  // The same the other way: a raw frame from its proxy on an agent's link.
  void inject_to_agent(core::agent* a, std::string frame);

 private:
  // One node: its kernel, and this harness as the kernel's world and application.
  struct process final : host::world_port, host::application {
    process(harness& owner, std::string host_name, std::unique_ptr<core::node> role)
        : f(owner), host(std::move(host_name)), n(role.get()), k(std::move(role), *this, this) {}
    void publish(bus_kind b, std::string_view subject, frame_ptr frame) override;
    bool subscribe(bus_kind b, const std::string& subject, const std::string& queue) override;
    void unsubscribe(bus_kind b, const std::string& subject) override;
    void send(link_id link, frame_ptr frame) override;
    void close(link_id link) override;
    void dial(link_id link, const std::string& target) override;
    void wake_at(micros at, std::uint64_t generation) override;
    void deliver(core::node& role, const message& m, micros now) override;
    void complete(core::node& role, act::complete& c, micros now) override;

    harness& f;
    std::string host;
    core::node* n;
    host::kernel k;
    micros wake = never;
    std::uint64_t wake_generation = 0;
  };
  struct sub {
    process* who;
    std::string queue;
  };
  struct link {
    core::node* a = nullptr;  // the agent's end
    link_id a_id = 0;
    core::node* p = nullptr;  // the proxy's end
    link_id p_id = 0;
    bool agent_open = true;
    bool proxy_open = true;
    // Written frames not yet reported to each side's role (in batches, as real links do).
    host::written_frames written_by_agent, written_by_proxy;
  };
  struct event {
    std::function<void()> fire;
  };

  // The link of `a` that is open at both ends (tests inject frames on it).
  [[nodiscard]] const link& open_link_of(const core::agent* a) const;
  template <class Role>
  Role* add(std::string host, std::unique_ptr<Role> role);
  void after(core::node* n);  // carries out n's actions
  // Queues event `e` for `n` (dropped if n is dead by then).
  void later(core::node* n, core::event e);
  process& proc(core::node* n) const;
  void deliver_bus(process* to, const std::string& subject, const frame_ptr& f);
  void tick_all();
  void close_link(std::size_t idx, bool from_agent);

  micros now_ = 0;
  rng choose_;
  std::uint64_t seed_;
  std::uint64_t next_seed_ = 1000;
  std::deque<event> queue_;
  std::vector<std::unique_ptr<process>> procs_;
  std::map<const core::node*, process*> proc_of_;
  std::set<core::node*> alive_;
  std::set<core::node*> stalled_;
  std::map<core::node*, app_log> logs_;
  // Subscriptions: backbone under host "", host buses under their host name.
  std::map<std::pair<std::string, std::string>, std::vector<sub>> subs_;
  std::vector<link> links_;
  std::map<std::string, core::proxy*> proxy_by_name_;
  link_id next_link_ = 100;
  shared_secret_verifier default_verifier_{"secret"};
  host::sample_app sample_;
};

}  // namespace ccp::test
