#include "sim/scenario.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <set>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/address.hpp"

namespace ccp::sim {
namespace {

using nlohmann::json;

// ---- Ranges ---------------------------------------------------------------------------------
// Large enough for any fleet we simulate, small enough that a typo (an extra zero) is caught
// and that no product of them overflows the engine's arithmetic.

constexpr int max_mgmt = 100;
constexpr int max_proxies = 1000;
constexpr int max_hosts = 100000;
// A NATS cluster of more than 5 nodes is rare, and `ccp real` starts each as a process.
constexpr int max_bus_nodes = 5;
constexpr micros max_span = 86400 * core::seconds;  // any time or period: one simulated day
constexpr micros max_latency = 60 * core::seconds;  // a link slower than this is down
constexpr double max_factor = 1000;                 // latency x1000 is already a partition
constexpr std::size_t max_name_bytes = 64;          // names label traces and file names
// A process that takes a second per event is already a stalled one; and a frame of
// max_frame_bytes at the largest byte cost stays well inside the arithmetic (~2.6e11 ns).
constexpr int max_cost_us = 1'000'000;
constexpr int max_byte_ns = 1'000'000;

constexpr std::array<std::string_view, 3> proxy_orders = {"rotate", "shuffle", "same"};
constexpr std::array<std::string_view, 4> roles = {"mgmt", "proxy", "agent", "endpoint"};
constexpr std::array<std::string_view, 2> send_kinds = {"request", "notification"};
constexpr std::array<std::string_view, 2> op_types = {"echo", "ping"};
// Every fault kind: its name, what its `target` indexes, and whether it lasts a duration.
enum class fault_target : std::uint8_t { proxy, host, mgmt, bus_node, none };
struct fault_info {
  std::string_view name;
  fault_target target;
  bool timed;  // needs a positive duration_s
};
constexpr std::array<fault_info, 13> fault_table = {{
    {"kill_proxy", fault_target::proxy, false},
    {"restart_proxy", fault_target::proxy, false},
    {"drain_proxy", fault_target::proxy, false},
    {"kill_agent", fault_target::host, false},
    {"half_open", fault_target::host, false},
    {"partition_proxy", fault_target::proxy, true},
    {"latency_spike", fault_target::none, true},
    {"stall_proxy", fault_target::proxy, true},
    {"slow_consumer", fault_target::proxy, false},
    {"bus_outage", fault_target::none, true},
    {"endpoint_churn", fault_target::host, true},
    {"kill_mgmt", fault_target::mgmt, false},
    {"kill_bus_node", fault_target::bus_node, false},
}};
constexpr const fault_info& info(fault_kind k) {
  return fault_table[static_cast<std::size_t>(k)];
}
// The table follows the enum's order.
static_assert(info(fault_kind::kill_bus_node).name == "kill_bus_node" &&
              info(fault_kind::kill_mgmt).name == "kill_mgmt" &&
              info(fault_kind::endpoint_churn).name == "endpoint_churn" &&
              info(fault_kind::kill_proxy).name == "kill_proxy");
constexpr std::array<std::string_view, fault_table.size()> fault_kinds = [] {
  std::array<std::string_view, fault_table.size()> names{};
  for (std::size_t k = 0; k < fault_table.size(); ++k)
    names[k] = fault_table[k].name;
  return names;
}();
constexpr std::array<std::string_view, 9> violations = {
    "non_member_delivery", "duplicate_delivery", "outcome_count",
    "unbounded_queue",     "double_ownership",   "swallowed_any",
    "group_accounting",    "unbalanced",         "any_share_skew"};
// One sabotage per violation (core/sabotage.hpp).
constexpr std::array<std::string_view, 9> sabotages = {
    "fencing_off", "empty_proxy_takes_any", "duplicate_delivery",
    "misroute",    "double_complete",       "no_link_bound",
    "lax_groups",  "no_rebalance",          "any_over_proxies"};

bool contains(std::span<const std::string_view> set, std::string_view s) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

std::string joined(std::span<const std::string_view> set) {
  std::string s;
  for (std::string_view x : set) {
    if (!s.empty()) s += ", ";
    s += x;
  }
  return s;
}

// One key as a JSON Pointer segment (RFC 6901): '~' -> "~0", '/' -> "~1".
std::string pointer_segment(std::string_view key) {
  std::string s;
  for (char c : key) {
    if (c == '~')
      s += "~0";
    else if (c == '/')
      s += "~1";
    else
      s += c;
  }
  return s;
}

// `v` microseconds as a decimal number of `unit`s without trailing zeros: (1, seconds) ->
// "0.000001", (30 s, seconds) -> "30". For the bounds quoted in error messages; v >= 0.
std::string decimal(micros v, micros unit) {
  std::string s = std::to_string(v / unit);
  micros frac = v % unit;
  if (frac == 0) return s;
  std::string digits = std::to_string(frac);
  int width = 0;
  for (micros u = unit; u > 1; u /= 10)
    ++width;
  digits.insert(0, static_cast<std::size_t>(width) - digits.size(), '0');
  while (digits.back() == '0')
    digits.pop_back();
  return s + "." + digits;
}

// Reads the fields of one JSON object. The first mistake is kept in `error` and every later
// read does nothing, like a stream's fail state: a section reads as a straight list of
// fields and the caller checks once at the end.
class fields {
 public:
  // Checks that `j` is an object whose keys are all in `known`.
  fields(std::string& error, const json& j, std::string path,
         std::initializer_list<std::string_view> known)
      : error_(error), j_(j), path_(std::move(path)) {
    if (!ok()) return;
    if (!j.is_object()) {
      error_ = (path_.empty() ? "/" : path_) + ": expected an object";
      return;
    }
    for (const auto& item : j.items()) {
      if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
        std::string list;
        for (std::string_view k : known)
          list += (list.empty() ? "" : ", ") + std::string(k);
        fail(item.key(), "unknown key, expected one of " + list);
        return;
      }
    }
  }

  [[nodiscard]] bool ok() const { return error_.empty(); }
  [[nodiscard]] std::string path(std::string_view key) const {
    return path_ + "/" + pointer_segment(key);
  }
  void fail(std::string_view key, std::string_view what) {
    if (ok()) error_ = path(key) + ": " + std::string(what);
  }

  // The value of `key`, or nullptr when absent (an error too when `required`).
  [[nodiscard]] const json* find(std::string_view key, bool required, std::string_view what) {
    if (!ok()) return nullptr;
    auto it = j_.find(std::string(key));
    if (it != j_.end()) return &*it;
    if (required) fail(key, "missing, expected " + std::string(what));
    return nullptr;
  }

  // An integer in [lo, hi]; `what` defaults to "an integer from LO to HI".
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t lo, std::int64_t hi,
                                      bool required = false, std::string what = {}) {
    if (what.empty()) what = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
    const json* v = find(key, required, what);
    if (!v) return std::nullopt;
    // Unsigned first: a value above INT64_MAX must not wrap into range.
    bool in = false;
    std::int64_t x = 0;
    if (v->is_number_unsigned()) {
      auto u = v->get<std::uint64_t>();
      in = u <= static_cast<std::uint64_t>(hi) && hi >= 0;
      x = static_cast<std::int64_t>(std::min<std::uint64_t>(u, INT64_MAX));
    } else if (v->is_number_integer()) {
      x = v->get<std::int64_t>();
      in = true;
    }
    if (!in || x < lo || x > hi) {
      fail(key, "expected " + what);
      return std::nullopt;
    }
    return x;
  }

  void integer_into(std::string_view key, int lo, int hi, int& out, bool required = false,
                    std::string what = {}) {
    if (auto v = integer(key, lo, hi, required, std::move(what))) out = static_cast<int>(*v);
  }

  // Any unsigned 64-bit integer.
  void uint64_into(std::string_view key, std::uint64_t& out) {
    const json* v = find(key, false, {});
    if (!v) return;
    if (v->is_number_unsigned())
      out = v->get<std::uint64_t>();
    else if (v->is_number_integer() && v->get<std::int64_t>() >= 0)
      out = static_cast<std::uint64_t>(v->get<std::int64_t>());
    else
      fail(key, "expected an integer from 0 to " + std::to_string(UINT64_MAX));
  }

  // A finite number in [lo, hi]; absent keeps `out`.
  std::optional<double> number(std::string_view key, double lo, double hi, std::string_view what,
                               bool required = false) {
    const json* v = find(key, required, what);
    if (!v) return std::nullopt;
    double x = v->is_number() ? v->get<double>() : NAN;
    if (!(x >= lo && x <= hi)) {  // also rejects NaN
      fail(key, "expected " + std::string(what));
      return std::nullopt;
    }
    return x;
  }

  // A time given as a number of `unit`s (core::seconds or core::ms), rounded to the nearest
  // microsecond, which must lie in [lo, hi] microseconds.
  std::optional<micros> time(std::string_view key, micros unit, micros lo, micros hi,
                             std::string_view what, bool required = false) {
    const json* v = find(key, required, what);
    if (!v) return std::nullopt;
    double x = v->is_number() ? v->get<double>() * static_cast<double>(unit) : NAN;
    // The coarse check keeps llround defined; the exact one is on the rounded value.
    if (!(x >= static_cast<double>(lo) - 1 && x <= static_cast<double>(hi) + 1)) {
      fail(key, "expected " + std::string(what));
      return std::nullopt;
    }
    micros us = std::llround(x);
    if (us < lo || us > hi) {
      fail(key, "expected " + std::string(what));
      return std::nullopt;
    }
    return us;
  }

  void time_into(std::string_view key, micros unit, micros lo, micros hi, micros& out) {
    std::string what = "a number from " + decimal(lo, unit) + " to " + decimal(hi, unit);
    if (auto v = time(key, unit, lo, hi, what)) out = *v;
  }

  // A string; `what` describes it in the error.
  const std::string* string(std::string_view key, std::string_view what, bool required = false) {
    const json* v = find(key, required, what);
    if (!v) return nullptr;
    if (!v->is_string()) {
      fail(key, "expected " + std::string(what));
      return nullptr;
    }
    return v->get_ptr<const std::string*>();
  }

  // One of `choices`; absent keeps `out`.
  void one_of(std::string_view key, std::span<const std::string_view> choices, std::string& out,
              bool required = false) {
    std::string what = "one of " + joined(choices);
    const std::string* s = string(key, what, required);
    if (!s) return;
    if (!contains(choices, *s))
      fail(key, "expected " + what);
    else
      out = *s;
  }

  // An array, or nullptr when absent or not an array (an error).
  const json* array(std::string_view key) {
    const json* v = find(key, false, {});
    if (v && !v->is_array()) {
      fail(key, "expected an array");
      return nullptr;
    }
    return v;
  }

 private:
  std::string& error_;
  const json& j_;
  std::string path_;
};

bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= max_name_bytes && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// Why `to` (with "{host}" and "{ep}" placeholders) is not an address, or "" when it is. The
// parse error's offset points into `to` as written, not into the substituted text.
std::string address_error(std::string_view to) {
  std::string text;
  std::vector<std::size_t> source;  // source[i]: offset in `to` of text[i]
  for (std::size_t i = 0; i < to.size();) {
    std::string_view rest = to.substr(i);
    std::string_view with;
    std::size_t len = 1;
    if (rest.starts_with("{host}")) {
      with = "10.0.0.1";
      len = 6;
    } else if (rest.starts_with("{ep}")) {
      with = "e1";
      len = 4;
    } else {
      with = rest.substr(0, 1);
    }
    text += with;
    source.insert(source.end(), with.size(), i);
    i += len;
  }
  source.push_back(to.size());
  auto a = core::address::parse(text);
  if (a) return {};
  core::parse_error e = a.error();
  e.offset = source[std::min(e.offset, source.size() - 1)];
  return e.message();
}

// The processing cost: false (off), true (the defaults) or an object of costs, each
// overriding its default.
void read_cost(std::string& error, const json& j, cost_model& c) {
  if (!error.empty()) return;
  if (j.is_boolean()) {
    c.on = j.get<bool>();
    return;
  }
  if (!j.is_object()) {
    error = "/topology/cost: expected false, true or an object of costs";
    return;
  }
  c.on = true;  // an object: on, its keys overriding the defaults
  fields f(error, j, "/topology/cost",
           {"accept_us", "hello_us", "directory_us", "frame_us", "byte_ns"});
  const std::string what =
      "a number of microseconds from 0 to " + std::to_string(max_cost_us) + " (fractions allowed)";
  auto ns = [&](std::string_view key, std::int64_t& out) {
    if (auto v = f.number(key, 0, max_cost_us, what)) out = std::llround(*v * 1000);
  };
  ns("accept_us", c.accept_ns);
  ns("hello_us", c.hello_ns);
  ns("directory_us", c.directory_ns);
  ns("frame_us", c.frame_ns);
  if (auto v = f.number("byte_ns", 0, max_byte_ns,
                        "a number of nanoseconds from 0 to " + std::to_string(max_byte_ns) +
                            " (fractions allowed)"))
    c.byte_ns = *v;
}

void read_topology(std::string& error, const json& j, topology& t) {
  fields f(error, j, "/topology",
           {"mgmt", "proxies", "hosts", "endpoints_per_host", "proxy_order", "link_latency_ms",
            "link_jitter_ms", "backbone_latency_ms", "host_bus_latency_ms", "bus_nodes",
            "bus_failover_ms", "bus_reconnect_ms", "cost"});
  f.integer_into("mgmt", 1, max_mgmt, t.mgmt);
  f.integer_into("proxies", 1, max_proxies, t.proxies);
  f.integer_into("hosts", 1, max_hosts, t.hosts);
  f.integer_into("endpoints_per_host", 0, static_cast<int>(core::max_endpoints_per_agent),
                 t.endpoints_per_host);
  f.one_of("proxy_order", proxy_orders, t.proxy_order);
  f.time_into("link_latency_ms", core::ms, 0, max_latency, t.link_latency);
  f.time_into("link_jitter_ms", core::ms, 0, max_latency, t.link_jitter);
  f.time_into("backbone_latency_ms", core::ms, 0, max_latency, t.backbone_latency);
  f.time_into("host_bus_latency_ms", core::ms, 0, max_latency, t.host_bus_latency);
  f.integer_into("bus_nodes", 1, max_bus_nodes, t.bus_nodes);
  f.time_into("bus_failover_ms", core::ms, 0, max_latency, t.bus_failover);
  f.time_into("bus_reconnect_ms", core::ms, 0, max_latency, t.bus_reconnect);
  if (const json* c = f.find("cost", false, {})) read_cost(error, *c, t.cost);
}

void read_workload_item(std::string& error, const json& j, std::string path, const scenario& s,
                        workload_item& w) {
  fields f(error, j, std::move(path),
           {"from", "to", "kind", "type", "every_ms", "timeout_ms", "start_s", "stop_s"});
  f.one_of("from", roles, w.from);
  if (f.ok() && w.from == "endpoint" && s.topo.endpoints_per_host == 0)
    f.fail("from", "expected mgmt, proxy or agent (topology has no endpoints)");
  if (const std::string* to = f.string("to", "an address string", true)) {
    if (std::string e = address_error(*to); !e.empty())
      f.fail("to", "expected a ccp address: " + e);
    else if (to->find("{ep}") != std::string::npos && s.topo.endpoints_per_host == 0)
      f.fail("to", "expected no {ep} (topology has no endpoints)");
    else
      w.to = *to;
  }
  std::string kind = "request";
  f.one_of("kind", send_kinds, kind);
  w.request = kind == "request";
  f.one_of("type", op_types, w.type);
  std::string positive_ms = "a number from 0.001 to " + decimal(max_span, core::ms);
  if (auto v = f.time("every_ms", core::ms, 1, max_span, positive_ms, true)) w.every = *v;
  if (auto v = f.time("timeout_ms", core::ms, 1, max_span, positive_ms)) w.timeout = *v;
  std::string start_what =
      "a number >= 0 and < " + decimal(s.duration, core::seconds) + " (duration_s)";
  if (auto v = f.time("start_s", core::seconds, 0, s.duration - 1, start_what)) w.start = *v;
  std::string stop_what = "a number > " + decimal(w.start, core::seconds) +
                          " (start_s) and <= " + decimal(max_span, core::seconds);
  if (auto v = f.time("stop_s", core::seconds, w.start + 1, max_span, stop_what)) w.stop = *v;
}

void read_fault(std::string& error, const json& j, std::string path, const scenario& s, fault& x) {
  fields f(error, j, std::move(path), {"at_s", "kind", "target", "count", "duration_s", "factor"});
  std::string at_what =
      "a number >= 0 and < " + decimal(s.duration, core::seconds) + " (duration_s)";
  if (auto v = f.time("at_s", core::seconds, 0, s.duration - 1, at_what, true)) x.at = *v;
  std::string kind;
  f.one_of("kind", fault_kinds, kind, true);
  if (!f.ok()) return;
  x.kind = static_cast<fault_kind>(std::find(fault_kinds.begin(), fault_kinds.end(), kind) -
                                   fault_kinds.begin());
  const fault_info& k = info(x.kind);

  switch (k.target) {
    case fault_target::proxy:
      f.integer_into("target", -1, s.topo.proxies - 1, x.target, false,
                     "an integer from -1 to " + std::to_string(s.topo.proxies - 1) +
                         " (a proxy index, or -1 for all)");
      break;
    case fault_target::mgmt:
      f.integer_into("target", 0, s.topo.mgmt - 1, x.target, false,
                     "an integer from 0 to " + std::to_string(s.topo.mgmt - 1) + " (a mgmt index)");
      break;
    case fault_target::host:
      f.integer_into("target", -1, s.topo.hosts - 1, x.target, false,
                     "an integer from -1 to " + std::to_string(s.topo.hosts - 1) +
                         " (a host index, or -1 for all)");
      break;
    case fault_target::bus_node:
      f.integer_into("target", -1, s.topo.bus_nodes - 1, x.target, false,
                     "an integer from -1 to " + std::to_string(s.topo.bus_nodes - 1) +
                         " (a bus node index, or -1 for all)");
      break;
    case fault_target::none:
      f.integer_into("target", -1, INT_MAX, x.target);
      break;
  }
  f.integer_into("count", 1, INT_MAX, x.count);

  const bool timed = k.timed;
  micros min_duration = timed ? 1 : 0;
  std::string duration_what = "a number from " + decimal(min_duration, core::seconds) + " to " +
                              decimal(max_span, core::seconds);
  if (timed) duration_what += " for " + kind;
  if (auto v = f.time("duration_s", core::seconds, min_duration, max_span, duration_what, timed))
    x.duration = *v;
  std::string factor_what = "a number from 1 to " + std::to_string(static_cast<int>(max_factor));
  if (auto v = f.number("factor", 1, max_factor, factor_what)) x.factor = *v;
}

// Rebalancing and `any` over members (checked by world::check_balance and
// world::check_any_share in sim/checker.cpp).
void read_balance_expect(fields& f, const scenario& s, expectations& e) {
  e.balance_within =
      f.time("balance_within_s", core::seconds, 0, s.duration,
             "a number from 0 to " + decimal(s.duration, core::seconds) + " (duration_s)");
  if (auto v = f.number("balance_tolerance", 0, 1, "a number from 0 to 1")) {
    e.balance_tolerance = *v;
    if (!e.balance_within) f.fail("balance_tolerance", "expected only with balance_within_s");
  }
  e.max_any_share_skew = f.number("max_any_share_skew", 1, 1000, "a number from 1 to 1000");
}

void read_expect(std::string& error, const json& j, const scenario& s, expectations& e) {
  fields f(
      error, j, "/expect",
      {"min_ok_ratio", "max_timeout_ratio", "min_unreachable_ratio", "max_unreachable_ratio",
       "max_partial_ratio", "reattach_within_s", "converge_within_s", "group_complete_within_ms",
       "balance_within_s", "balance_tolerance", "max_any_share_skew", "violation"});
  constexpr std::string_view ratio = "a number from 0 to 1";
  e.min_ok_ratio = f.number("min_ok_ratio", 0, 1, ratio);
  e.max_timeout_ratio = f.number("max_timeout_ratio", 0, 1, ratio);
  e.min_unreachable_ratio = f.number("min_unreachable_ratio", 0, 1, ratio);
  e.max_unreachable_ratio = f.number("max_unreachable_ratio", 0, 1, ratio);
  e.max_partial_ratio = f.number("max_partial_ratio", 0, 1, ratio);
  e.group_complete_within = f.time("group_complete_within_ms", core::ms, 0, 60 * core::seconds,
                                   "a number from 0 to 60000");
  // Checked in the liveness phase, so they cannot exceed it.
  std::string within = "a number from 0 to " + decimal(s.liveness, core::seconds) + " (liveness_s)";
  e.reattach_within = f.time("reattach_within_s", core::seconds, 0, s.liveness, within);
  e.converge_within = f.time("converge_within_s", core::seconds, 0, s.liveness, within);
  // Measured in the liveness phase: without one, such an expectation could never hold.
  if (s.liveness == 0) {
    if (e.reattach_within) f.fail("reattach_within_s", "needs liveness_s > 0 (measured then)");
    if (e.converge_within) f.fail("converge_within_s", "needs liveness_s > 0 (measured then)");
  }
  read_balance_expect(f, s, e);
  std::string violation;
  f.one_of("violation", violations, violation);
  if (!violation.empty()) e.violation = violation;
}

}  // namespace

std::uint64_t estimate_memory(const topology& t) noexcept {
  // Bytes, from the peak RSS of 3 s runs of fleets from 1,000 to 5,000 hosts, 1 to 200
  // proxies, 1 to 20 mgmt nodes and 0 to 8 endpoints per host, rounded up a little (the
  // commit that set them lists the runs).
  constexpr std::uint64_t base = 12 << 20;        // the executable, one empty run
  constexpr std::uint64_t per_process = 5000;     // an agent, proxy or mgmt: role, kernel, links
  constexpr std::uint64_t per_endpoint = 3800;    // an endpoint and its registration
  constexpr std::uint64_t per_route = 400;        // a host in one proxy's or mgmt's directory
  constexpr std::uint64_t per_member_route = 32;  // an endpoint id in one directory's route
  const auto hosts = static_cast<std::uint64_t>(t.hosts);
  const auto directories = static_cast<std::uint64_t>(t.proxies + t.mgmt);
  const std::uint64_t processes = directories + hosts;
  const std::uint64_t endpoints = hosts * static_cast<std::uint64_t>(t.endpoints_per_host);
  return base + processes * per_process + endpoints * per_endpoint +
         hosts * directories * per_route + endpoints * directories * per_member_route;
}

std::string_view to_string(fault_kind k) noexcept {
  return info(k).name;
}

std::expected<scenario, std::string> parse_scenario(const nlohmann::json& j) {
  std::string error;
  scenario s;
  fields f(error, j, "",
           {"name", "description", "seed", "duration_s", "liveness_s", "topology", "workload",
            "faults", "expect", "sabotage"});
  constexpr std::string_view name_what =
      "a name of 1 to 64 characters from a-z, 0-9 and - (e.g. \"proxy-crash\")";
  if (const std::string* name = f.string("name", name_what, true)) {
    if (!valid_name(*name))
      f.fail("name", "expected " + std::string(name_what));
    else
      s.name = *name;
  }
  if (const std::string* d = f.string("description", "a string", true)) s.description = *d;
  f.uint64_into("seed", s.seed);
  f.time_into("duration_s", core::seconds, 1, max_span, s.duration);
  f.time_into("liveness_s", core::seconds, 0, max_span, s.liveness);
  if (const json* t = f.find("topology", true, "an object")) read_topology(error, *t, s.topo);

  if (const json* items = f.array("workload")) {
    for (std::size_t i = 0; i < items->size() && error.empty(); ++i)
      read_workload_item(error, (*items)[i], "/workload/" + std::to_string(i), s,
                         s.workload.emplace_back());
  }
  if (const json* items = f.array("faults")) {
    for (std::size_t i = 0; i < items->size() && error.empty(); ++i)
      read_fault(error, (*items)[i], "/faults/" + std::to_string(i), s, s.faults.emplace_back());
  }
  if (const json* e = f.find("expect", false, {})) read_expect(error, *e, s, s.expect);

  std::array<std::string_view, sabotages.size() + 1> sabotage_or_none{};
  sabotage_or_none[0] = "\"\"";
  std::copy(sabotages.begin(), sabotages.end(), sabotage_or_none.begin() + 1);
  if (const std::string* sab = f.string("sabotage", "one of " + joined(sabotage_or_none))) {
    if (!sab->empty() && !contains(sabotages, *sab))
      f.fail("sabotage", "expected one of " + joined(sabotage_or_none));
    else
      s.sabotage = *sab;
  }
  // A negative scenario passes only when its one violation is reported, so the two come
  // together: a sabotage with nothing to expect, or an expected violation with nothing to
  // cause it, is a mistake in the file.
  if (f.ok() && !s.sabotage.empty() && !s.expect.violation)
    f.fail("sabotage", "expected /expect/violation to name the violation it causes");
  if (f.ok() && s.expect.violation && s.sabotage.empty())
    error = "/expect/violation: expected only with a /sabotage that causes it";

  if (!error.empty()) return std::unexpected(std::move(error));
  return s;
}

namespace {

// Finds the first key that appears twice in one object (nlohmann keeps the last silently),
// as a parser callback that tracks the JSON Pointer of the value being read.
class duplicate_finder {
 public:
  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        stack_.emplace_back().array = false;
        break;
      case json::parse_event_t::array_start:
        stack_.emplace_back().array = true;
        break;
      case json::parse_event_t::key: {
        frame& top = stack_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second && first_.empty()) first_ = pointer();
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        stack_.pop_back();
        next_element();
        break;
      case json::parse_event_t::value:
        next_element();
        break;
    }
    return true;  // keep everything
  }

  // The path of the first duplicate key, or "" when none.
  [[nodiscard]] const std::string& first() const { return first_; }

 private:
  struct frame {
    bool array = false;
    std::size_t index = 0;  // arrays: index of the element being read
    std::string key;        // objects: key of the member being read
    std::set<std::string, std::less<>> keys;
  };

  void next_element() {
    if (!stack_.empty() && stack_.back().array) ++stack_.back().index;
  }
  [[nodiscard]] std::string pointer() const {
    std::string p;
    for (const frame& f : stack_)
      p += "/" + (f.array ? std::to_string(f.index) : pointer_segment(f.key));
    return p;
  }

  std::vector<frame> stack_;
  std::string first_;
};

// 1-based line and byte column of nlohmann's parse_error::byte, the 1-based index of the
// last byte read (size + 1 at the end of the input).
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t byte) {
  std::size_t at = std::min(byte == 0 ? 0 : byte - 1, text.size());
  std::size_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, at - line_start + 1};
}

// nlohmann's what() without "[json.exception.X.N] " and its own "parse error at ...: ".
std::string json_detail(const nlohmann::json::exception& e) {
  std::string_view w = e.what();
  if (auto p = w.find("] "); p != std::string_view::npos) w.remove_prefix(p + 2);
  if (w.starts_with("parse error")) {
    if (auto p = w.find(": "); p != std::string_view::npos) w.remove_prefix(p + 2);
  }
  return std::string(w);
}

}  // namespace

std::expected<scenario, std::string> load_scenario(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return std::unexpected(path + ": cannot read: is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::unexpected(path + ": cannot open: " + std::generic_category().message(errno));
  std::string text;
  try {  // libstdc++ throws from the stream buffer on a read error
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    return std::unexpected(path + ": cannot read: " + e.what());
  }
  if (in.bad()) return std::unexpected(path + ": cannot read");
  return parse_scenario_text(text, path);
}

std::expected<scenario, std::string> parse_scenario_text(std::string_view text,
                                                         std::string_view origin) {
  const std::string path(origin);
  duplicate_finder duplicates;
  json j;
  try {
    j = json::parse(text, std::ref(duplicates));
  } catch (const json::parse_error& e) {
    auto [line, column] = line_column(text, e.byte);
    return std::unexpected(path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                           json_detail(e));
  } catch (const json::exception& e) {  // e.g. a number too large for a double
    return std::unexpected(path + ": " + json_detail(e));
  }
  if (!duplicates.first().empty())
    return std::unexpected(path + ": " + duplicates.first() + ": duplicate key");

  auto s = parse_scenario(j);
  if (!s) return std::unexpected(path + ": " + s.error());
  return s;
}

}  // namespace ccp::sim
