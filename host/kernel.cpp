#include "host/kernel.hpp"

#include <algorithm>
#include <variant>

namespace ccp::host {

using namespace ccp::core;

void sample_app::serve_on(node& role) const {
  role.serve("echo");
  for (const auto& [type, body] : answers_)
    role.serve(type);
}

void sample_app::deliver(node& role, const message& m, micros now) {
  if (m.kind != msg_kind::request) return;
  if (m.type == "echo") {
    role.reply(m, m.body, now);
  } else if (auto it = answers_.find(m.type); it != answers_.end()) {
    role.reply(m, it->second, now);
  }
}

kernel::kernel(std::unique_ptr<node> role, world_port& port, application* app, send_mode mode)
    : role_(std::move(role)), port_(port), app_(app), mode_(mode) {}

bool kernel::link_open(link_id link) const {
  const link_state* s = links_.find(link);
  return s && *s == link_state::open;
}

void kernel::handle(event&& e, micros now) {
  if (closed_) return;
  // The link table follows ups and downs, so a down is told once and close_all knows what
  // to close. Frames and write reports go straight to the role, which drops those of a
  // link it no longer holds: a second lookup here, per frame, only added cache misses
  // (the role checks its own link table on the forwarding path already).
  if (auto* up = std::get_if<in::link_up>(&e)) {
    links_.assign(up->link, link_state::open);
  } else if (auto* down = std::get_if<in::link_down>(&e)) {
    if (!links_.erase(down->link)) return;
    outbox_.erase(down->link);
  }
  role_->handle(std::move(e), now);
  run_actions(now);
}

void kernel::run_actions(micros now) {
  // One action at a time, by index: carrying one out may append more (the application's
  // reply to a delivery), which run in this same turn, after those already there. The
  // vector keeps its capacity, so the role's next call does not allocate, unless a burst
  // (a fan-out) grew it beyond what a process usually needs.
  constexpr std::size_t kept_capacity = 16;
  std::vector<action>& out = role_->actions();
  for (std::size_t k = 0; k < out.size() && !closed_; ++k) {
    action a = std::move(out[k]);
    std::visit([this, now](auto& x) { execute(x, now); }, a);
  }
  if (out.capacity() > kept_capacity)
    std::vector<action>().swap(out);
  else
    out.clear();
  reschedule();
}

void kernel::execute(act::publish& p, micros) {
  port_.publish(p.bus, p.subject.view(), std::move(p.frame));
}

void kernel::execute(act::subscribe& s, micros) {
  auto key = std::make_pair(s.bus, s.subject);
  if (subs_.contains(key)) return;
  if (port_.subscribe(s.bus, s.subject, s.queue)) subs_.insert(std::move(key));
}

void kernel::execute(act::unsubscribe& u, micros) {
  auto it = subs_.find(std::make_pair(u.bus, u.subject));
  if (it == subs_.end()) return;
  subs_.erase(it);
  port_.unsubscribe(u.bus, u.subject);
}

void kernel::execute(act::send& s, micros) {
  // A role sends only on links it holds; the world drops a frame for a link it has closed.
  if (mode_ == send_mode::at_once) {
    port_.send(s.link, std::move(s.frame));
    return;
  }
  outbox_[s.link].push_back(std::move(s.frame));
  if (hand_over_asked_) return;
  hand_over_asked_ = true;
  port_.hand_over_soon();
}

void kernel::execute(act::close& c, micros) {
  hand_over(c.link);  // what the role sent before closing (a drain notice) goes first
  links_.erase(c.link);
  port_.closing(c.link, c.reason);
  port_.close(c.link);
}

void kernel::execute(act::dial& d, micros) {
  links_.assign(d.link, link_state::dialing);
  port_.dial(d.link, d.target);
}

void kernel::execute(act::deliver& d, micros now) {
  if (app_) app_->deliver(*role_, d.msg, now);
}

void kernel::execute(act::complete& c, micros now) {
  if (app_) app_->complete(*role_, c, now);
}

void kernel::execute(act::ready&, micros now) {
  if (app_) app_->ready(*role_, now);
}

void kernel::execute(act::drained&, micros now) {
  if (app_) app_->drained(*role_, now);
}

void kernel::reschedule() {
  const micros w = role_->next_wake();
  if (closed_ || w == never || w >= wake_) return;
  wake_ = w;
  port_.wake_at(w, ++wake_generation_);
}

void kernel::wake(std::uint64_t generation, micros now) {
  if (closed_ || generation != wake_generation_) return;  // superseded by an earlier wake
  wake_ = never;
  role_->tick(now);
  run_actions(now);
}

void kernel::hand_over(link_id link) {
  auto it = outbox_.find(link);
  if (it == outbox_.end()) return;
  std::vector<frame_ptr> frames = std::move(it->second);
  outbox_.erase(it);
  if (!frames.empty()) port_.send(link, std::move(frames));
}

void kernel::hand_over() {
  hand_over_asked_ = false;
  auto frames = std::move(outbox_);
  outbox_.clear();
  for (auto& [link, fs] : frames)
    if (!fs.empty()) port_.send(link, std::move(fs));
}

void kernel::close_all() {
  if (closed_) return;
  hand_over();
  closed_ = true;
  for (const auto& [bus, subject] : subs_)
    port_.unsubscribe(bus, subject);
  subs_.clear();
  std::vector<link_id> links;
  links_.for_each([&](link_id l, link_state) { links.push_back(l); });
  links_.clear();
  std::sort(links.begin(), links.end());  // in id order, whatever the hashing
  for (link_id l : links)
    port_.close(l);
}

}  // namespace ccp::host
