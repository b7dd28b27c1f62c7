#include "net/inproc_bus.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/inbox.hpp"

namespace ccp::net {
namespace {

// The in-process bus has no wildcards: every message of a subscription has its subject, so
// the inbox holds it once. Messages reach the executor in batches (net/inbox.hpp).
struct subscriber {
  subscription_id id = 0;
  std::shared_ptr<inbox> in;  // closed by unsubscribe (which runs on the same executor)
};

struct subject_entry {
  std::vector<subscriber> plain;
  std::map<std::string, std::vector<subscriber>, std::less<>> groups;
  std::map<std::string, std::size_t, std::less<>> next;  // round-robin position per group
};

// One named bus; shared by every open_inproc_bus(name) in the process.
class inproc_core {
 public:
  subscription_id subscribe(std::string_view subject, std::string_view queue,
                            boost::asio::any_io_executor ex, bus_handler h) {
    std::lock_guard lock(mu_);
    const subscription_id id = ++last_id_;
    subscriber s{id, std::make_shared<inbox>(std::move(ex), std::move(h), std::string(subject))};
    auto& e = subjects_[std::string(subject)];
    if (queue.empty()) {
      e.plain.push_back(std::move(s));
    } else {
      e.groups[std::string(queue)].push_back(std::move(s));
    }
    where_[id] = {std::string(subject), std::string(queue)};
    return id;
  }

  void unsubscribe(subscription_id id, bool keep_received) {
    std::lock_guard lock(mu_);
    auto w = where_.find(id);
    if (w == where_.end()) return;
    auto e = subjects_.find(w->second.first);
    if (e != subjects_.end()) {
      auto drop = [id, keep_received](std::vector<subscriber>& v) {
        std::erase_if(v, [id, keep_received](subscriber& s) {
          if (s.id != id) return false;
          if (keep_received)
            s.in->seal();
          else
            s.in->close();
          return true;
        });
      };
      if (w->second.second.empty()) {
        drop(e->second.plain);
      } else if (auto g = e->second.groups.find(w->second.second); g != e->second.groups.end()) {
        drop(g->second);
        if (g->second.empty()) e->second.groups.erase(g);
      }
      if (e->second.plain.empty() && e->second.groups.empty()) subjects_.erase(e);
    }
    where_.erase(w);
  }

  void publish(std::string_view subject, const core::frame_ptr& frame) {
    std::lock_guard lock(mu_);
    auto e = subjects_.find(subject);
    if (e == subjects_.end()) return;
    for (const auto& s : e->second.plain)
      give(s, *frame);
    for (auto& [queue, members] : e->second.groups) {
      auto& n = e->second.next[queue];
      give(members[n++ % members.size()], *frame);
    }
  }

 private:
  // Each receiver gets its own copy: handlers may change their frame (the hop count), and
  // the publisher may hand the same frame to other subjects.
  static void give(const subscriber& s, const std::string& bytes) {
    s.in->push({}, std::make_shared<std::string>(bytes));
  }

  std::mutex mu_;
  subscription_id last_id_ = 0;
  std::map<std::string, subject_entry, std::less<>> subjects_;
  std::map<subscription_id, std::pair<std::string, std::string>> where_;
};

// A holder's view of a named bus: its own subscriptions, removed when it goes.
class inproc_bus final : public bus {
 public:
  explicit inproc_bus(std::shared_ptr<inproc_core> core) : core_(std::move(core)) {}
  ~inproc_bus() override {
    std::vector<subscription_id> ids;
    {
      std::lock_guard lock(mu_);
      ids.assign(mine_.begin(), mine_.end());
    }
    for (auto id : ids)
      core_->unsubscribe(id, false);
  }

  std::expected<subscription_id, std::string> subscribe(std::string_view subject,
                                                        std::string_view queue,
                                                        boost::asio::any_io_executor ex,
                                                        bus_handler h) override {
    auto id = core_->subscribe(subject, queue, std::move(ex), std::move(h));
    std::lock_guard lock(mu_);
    mine_.push_back(id);
    return id;
  }
  void unsubscribe(subscription_id id, bool keep_received) override {
    core_->unsubscribe(id, keep_received);
    std::lock_guard lock(mu_);
    std::erase(mine_, id);
  }
  void publish(std::string_view subject, core::frame_ptr frame) override {
    core_->publish(subject, frame);
  }
  [[nodiscard]] std::uint64_t dropped() const noexcept override { return 0; }

 private:
  std::shared_ptr<inproc_core> core_;
  std::mutex mu_;
  std::vector<subscription_id> mine_;
};

}  // namespace

std::shared_ptr<bus> open_inproc_bus(std::string_view name, const bus_options& opts) {
  static std::mutex registry_mu;
  static std::map<std::string, std::weak_ptr<inproc_core>, std::less<>> registry;
  std::lock_guard lock(registry_mu);
  // The prefix namespaces subjects as on NATS: holders with other prefixes never meet.
  auto& slot = registry[std::string(name) + '\n' + opts.prefix];
  auto core = slot.lock();
  if (!core) {
    core = std::make_shared<inproc_core>();
    slot = core;
  }
  return std::make_shared<inproc_bus>(std::move(core));
}

}  // namespace ccp::net
