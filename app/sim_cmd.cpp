#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "app/commands.hpp"
#include "app/options.hpp"
#include "sim/scenario.hpp"
#include "sim/world.hpp"

namespace ccp::app {
namespace {

constexpr positional_spec sim_positionals[] = {
    {.name = "PATH", .help = "a scenario file, or a folder: every *.json in it", .variadic = true},
};

// Everything `ccp sim` takes.
constexpr option_spec sim_options[] = {
    {.name = "seed", .value = "N", .help = "run every scenario with seed N instead of its own"},
    {.name = "seeds", .value = "A..B", .help = "sweep seeds A to B inclusive"},
    {.name = "trace", .value = "FILE", .help = "write the run's trace (one scenario, one seed)"},
};

constexpr command_spec sim_command = {
    .name = "sim",
    .about =
        "Runs scenario files in the deterministic simulator and prints one line per run\n"
        "and a summary; a failing run prints the command that replays it.\n"
        "Exit status: 0 all passed, 1 some failed, 2 usage or scenario file error.",
    .positionals = sim_positionals,
    .options = sim_options,
};

// A decimal from 0 to 2^64-1: every seed a scenario file accepts can be replayed.
bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole ? 100.0 * double(part) / double(whole) : 0.0);
  return buf;
}

std::string millis(core::micros t) {
  return t < 0 ? "never" : std::to_string(t / core::ms) + "ms";
}

}  // namespace

const command_spec& sim_spec() {
  return sim_command;
}

int sim_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  auto o = options::parse(args, sim_command);
  if (!o)
    return err << "ccp sim: " << o.error() << "\nusage: " << usage_line(sim_command)
               << "\nRun 'ccp help sim' for its options.\n",
           2;
  if (o->help()) return out << options_help(sim_command), 0;
  const std::vector<std::string>& paths = o->positional();
  std::optional<std::uint64_t> seed_from, seed_to;
  if (o->get("seed") && o->get("seeds"))
    return err << "ccp sim: give --seed or --seeds, not both\n", 2;
  if (o->get("seed")) {
    std::uint64_t n = 0;
    if (!parse_u64(o->value("seed"), n))
      return err << "ccp sim: " << o->bad("seed", "expected a whole number") << '\n', 2;
    seed_from = seed_to = n;
  }
  if (o->get("seeds")) {
    const std::string v = o->value("seeds");
    auto dots = v.find("..");
    std::uint64_t lo = 0, hi = 0;
    if (dots == std::string::npos || !parse_u64(std::string_view(v).substr(0, dots), lo) ||
        !parse_u64(std::string_view(v).substr(dots + 2), hi) || hi < lo)
      return err << "ccp sim: " << o->bad("seeds", "expected A..B with A <= B") << '\n', 2;
    seed_from = lo;
    seed_to = hi;
  }
  const std::string trace = o->value("trace");

  // Every file is read and checked before anything runs.
  std::vector<std::pair<std::string, sim::scenario>> runs;
  for (const auto& p : paths) {
    std::vector<std::string> files;
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& entry : std::filesystem::directory_iterator(p, ec))
        if (entry.path().extension() == ".json") files.push_back(entry.path().string());
      std::sort(files.begin(), files.end());
      if (files.empty()) return err << "ccp sim: no *.json scenario in " << p << "\n", 2;
    } else {
      files.push_back(p);
    }
    for (const auto& f : files) {
      auto sc = sim::load_scenario(f);
      if (!sc) return err << "ccp sim: " << sc.error() << "\n", 2;
      runs.emplace_back(f, std::move(*sc));
    }
  }
  std::size_t seeds = seed_from ? static_cast<std::size_t>(*seed_to - *seed_from + 1) : 1;
  if (!trace.empty() && (runs.size() != 1 || seeds != 1))
    return err << "ccp sim: --trace needs exactly one scenario and one seed\n", 2;

  std::size_t passed = 0, failed = 0, errors = 0;
  for (const auto& [file, sc] : runs) {
    for (std::size_t k = 0; k < seeds; ++k) {
      std::uint64_t seed = seed_from ? *seed_from + k : sc.seed;
      auto start = std::chrono::steady_clock::now();
      sim::run_result r;
      try {
        r = sim::run_scenario(sc, seed, trace);
      } catch (const std::exception& e) {
        // This run could not go on (an event queue past its limits, a trace file that
        // cannot be written): it fails with its own message, the others still run.
        ++errors;
        out << "ERROR " << sc.name << " seed=" << seed << ": " << e.what() << '\n';
        continue;
      }
      double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char hash[32];
      std::snprintf(hash, sizeof hash, "%016" PRIx64, r.trace_hash);
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.2fs", wall);
      out << (r.pass ? "PASS " : "FAIL ") << sc.name << " seed=" << seed << " hash=" << hash
          << " processes=" << r.processes << " requests=" << r.requests
          << " ok=" << percent(r.ok, r.requests) << " timeout=" << percent(r.timeouts, r.requests)
          << " unreachable=" << percent(r.unreachable, r.requests)
          << " partial=" << percent(r.partial, r.requests) << " deliveries=" << r.deliveries
          << " reattach=" << millis(r.reattach_time) << " converge=" << millis(r.converge_time)
          << " events=" << r.events << " wall=" << secs;
      if (r.group_latency_max >= 0) out << " group_max=" << millis(r.group_latency_max);
      if (r.abandoned > 0) out << " abandoned=" << r.abandoned;
      if (sc.expect.balance_within) out << " balance=" << millis(r.balance_time);
      if (r.any_share_max >= 0) {
        char share[48];
        std::snprintf(share, sizeof share, " any_share=%.2f..%.2f", r.any_share_min,
                      r.any_share_max);
        out << share;
      }
      if (sc.expect.violation) out << " expected_violation=" << *sc.expect.violation;
      out << '\n';
      if (r.pass) {
        ++passed;
        continue;
      }
      ++failed;
      for (const auto& f : r.failures)
        out << "    " << f << '\n';
      out << "    replay: ccp sim " << file << " --seed " << seed << " --trace ccp-trace-"
          << sc.name << "-" << seed << ".jsonl\n";
    }
  }
  out << "sim: " << passed << " passed, " << failed << " failed";
  if (errors > 0) out << ", " << errors << " could not run";
  out << '\n';
  return errors > 0 ? 2 : failed == 0 ? 0 : 1;
}

}  // namespace ccp::app
