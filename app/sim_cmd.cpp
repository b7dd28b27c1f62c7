#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "app/options.hpp"
#include "core/coverage.hpp"
#include "sim/scenario.hpp"
#include "sim/swarm.hpp"
#include "sim/world.hpp"

namespace ccp::app {
namespace {

constexpr positional_spec sim_positionals[] = {
    {.name = "PATH",
     .help = "a scenario file, or a folder: every *.json in it (optional with --swarm)",
     .required = false,
     .variadic = true},
};

// Everything `ccp sim` takes.
constexpr option_spec sim_options[] = {
    {.name = "seed", .value = "N", .help = "run every scenario with seed N instead of its own"},
    {.name = "seeds", .value = "A..B", .help = "sweep seeds A to B inclusive"},
    {.name = "trace", .value = "FILE", .help = "write the run's trace (one scenario, one seed)"},
    {.name = "swarm", .value = "N", .help = "also run N random scenarios (swarm runs)"},
    {.name = "swarm-seed",
     .value = "S",
     .help = "the first swarm seed; run k has seed S+k",
     .fallback = "1"},
    {.name = "swarm-dir",
     .value = "DIR",
     .help = "where a failing swarm run writes its scenario file",
     .fallback = "."},
    {.name = "faults",
     .help = "print each fault's figures and its requests by outcome under its run's line"},
    {.name = "marks", .help = "print how often each coverage mark was hit (core/coverage.hpp)"},
    {.name = "require-marks", .help = "fail (exit 1) naming every coverage mark no run hit"},
    {.name = "memory-budget",
     .value = "MB",
     .help = "refuse a scenario whose estimated memory is above this many MiB",
     .fallback = "4096"},
};

constexpr command_spec sim_command = {
    .name = "sim",
    .about =
        "Runs scenario files in the deterministic simulator and prints one line per run\n"
        "and a summary; a failing run prints the command that replays it. --swarm N\n"
        "adds N random scenarios; a failing one is written to a file that replays it.\n"
        "Exit status: 0 all passed, 1 some failed (or a mark unhit with --require-marks),\n"
        "2 usage or scenario file error, or a run that could not run.",
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
  std::uint64_t swarm = 0, swarm_seed = 0;
  if (o->get("swarm")) {
    auto n = o->count("swarm", 1, 100'000'000);
    if (!n) return err << "ccp sim: " << n.error() << '\n', 2;
    swarm = *n;
  }
  if (!parse_u64(o->value("swarm-seed"), swarm_seed))
    return err << "ccp sim: " << o->bad("swarm-seed", "expected a whole number") << '\n', 2;
  const std::string swarm_dir = o->value("swarm-dir");
  auto budget_mib = o->count("memory-budget", 1, std::uint64_t{1} << 30);
  if (!budget_mib) return err << "ccp sim: " << budget_mib.error() << '\n', 2;
  const std::uint64_t budget = *budget_mib << 20;
  if (paths.empty() && swarm == 0)
    return err << "ccp sim: give a scenario PATH or --swarm N\nusage: " << usage_line(sim_command)
               << '\n',
           2;
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
  if (!trace.empty() && (runs.size() + swarm != 1 || seeds != 1))
    return err << "ccp sim: --trace needs exactly one scenario and one seed\n", 2;

  const auto marks_before = core::coverage::snapshot();
  std::size_t passed = 0, failed = 0, errors = 0;
  // One run of `sc` with `seed`; `file` replays it. `write` is set when the file is not on
  // disk yet and makes it (a swarm scenario is written only when its run fails).
  auto run_one = [&](const std::string& file, const sim::scenario& sc, std::uint64_t seed,
                     const std::function<bool()>& write) {
    if (std::uint64_t need = sim::estimate_memory(sc.topo); need > budget) {
      ++errors;
      out << "ERROR " << sc.name << " seed=" << seed << ": needs an estimated " << (need >> 20)
          << " MiB (" << sc.topo.hosts << " hosts x " << sc.topo.proxies
          << " proxies), above the memory budget of " << (budget >> 20)
          << " MiB (--memory-budget)\n";
      return;
    }
    auto start = std::chrono::steady_clock::now();
    sim::run_result r;
    try {
      r = sim::run_scenario(sc, seed, trace);
    } catch (const std::exception& e) {
      // This run could not go on (an event queue past its limits, a trace file that
      // cannot be written): it fails with its own message, the others still run.
      ++errors;
      out << "ERROR " << sc.name << " seed=" << seed << ": " << e.what() << '\n';
      if (write && write()) out << "    scenario: " << file << '\n';
      return;
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
      std::snprintf(share, sizeof share, " any_share=%.2f..%.2f", r.any_share_min, r.any_share_max);
      out << share;
    }
    if (!r.proxy_loads.empty()) {
      // The processing cost: the busiest proxy's busiest 100 ms, and the longest wait at any.
      std::size_t busiest = 0;
      core::micros wait = 0;
      for (std::size_t p = 0; p < r.proxy_loads.size(); ++p) {
        if (r.proxy_loads[p].busy_peak > r.proxy_loads[busiest].busy_peak) busiest = p;
        wait = std::max(wait, r.proxy_loads[p].wait_max);
      }
      char load[96];
      std::snprintf(load, sizeof load, " proxy_busy=%.0f%%@p%zu proxy_wait=%.1fms",
                    100 * r.proxy_loads[busiest].busy_peak, busiest + 1,
                    static_cast<double>(wait) / static_cast<double>(core::ms));
      out << load;
    }
    if (sc.expect.violation) out << " expected_violation=" << *sc.expect.violation;
    out << '\n';
    if (o->on("faults"))
      for (const sim::fault_figure& g : r.faults) {
        const bool heal = g.fault == sc.faults.size();
        out << "    " << (heal ? std::string("heal") : "fault " + std::to_string(g.fault)) << ' '
            << (heal ? std::string("all") : std::string(sim::to_string(sc.faults[g.fault].kind)))
            << " at=" << millis(g.start) << " end=" << millis(g.end)
            << " reattach=" << millis(g.reattach_from_end()) << " ("
            << millis(g.reattach_from_start())
            << " from start) converge=" << millis(g.converge_from_end()) << " ("
            << millis(g.converge_from_start()) << " from start) requests=" << g.requests
            << " ok=" << g.ok << " timeout=" << g.timeouts << " unreachable=" << g.unreachable
            << " partial=" << g.partial << " other=" << g.other_errors
            << " abandoned=" << g.abandoned << '\n';
      }
    if (r.pass) {
      ++passed;
      return;
    }
    ++failed;
    for (const auto& f : r.failures)
      out << "    " << f << '\n';
    if (write && !write()) {
      out << "    (cannot write " << file << "; replay: ccp sim --swarm 1 --swarm-seed " << seed
          << ")\n";
      return;
    }
    out << "    replay: ccp sim " << file << " --seed " << seed << " --trace ccp-trace-" << sc.name
        << "-" << seed << ".jsonl\n";
  };

  for (const auto& [file, sc] : runs)
    for (std::size_t k = 0; k < seeds; ++k)
      run_one(file, sc, seed_from ? *seed_from + k : sc.seed, {});

  for (std::uint64_t k = 0; k < swarm; ++k) {
    const std::uint64_t seed = swarm_seed + k;  // wraps past 2^64-1, as seeds may
    const nlohmann::json j = sim::swarm_scenario(seed);
    const std::string file =
        (std::filesystem::path(swarm_dir) / ("swarm-" + std::to_string(seed) + ".json")).string();
    auto write = [&] {
      std::error_code ec;
      std::filesystem::create_directories(swarm_dir, ec);  // an error shows as a failed write
      std::ofstream f(file, std::ios::binary | std::ios::trunc);
      f << j.dump(2) << '\n';
      return static_cast<bool>(f.flush());
    };
    auto sc = sim::parse_scenario(j);
    if (!sc) {  // a bug of the generator: its scenario is kept for whoever fixes it
      ++errors;
      out << "ERROR swarm-" << seed << ": the generated scenario is invalid: " << sc.error()
          << '\n';
      if (write()) out << "    scenario: " << file << '\n';
      continue;
    }
    run_one(file, *sc, sc->seed, write);
  }

  out << "sim: " << passed << " passed, " << failed << " failed";
  if (errors > 0) out << ", " << errors << " could not run";
  out << '\n';

  // Coverage marks hit by these runs.
  const auto marks_after = core::coverage::snapshot();
  std::vector<std::string_view> unhit;
  for (std::size_t m = 0; m < core::coverage::mark_count; ++m)
    if (marks_after[m] == marks_before[m]) unhit.push_back(core::coverage::marks[m].name);
  if (o->on("marks")) {
    out << "marks: " << core::coverage::mark_count - unhit.size() << " of "
        << core::coverage::mark_count << " hit\n";
    for (std::size_t m = 0; m < core::coverage::mark_count; ++m) {
      char line[160];
      std::snprintf(line, sizeof line, "  %-36.*s %12" PRIu64 "\n",
                    static_cast<int>(core::coverage::marks[m].name.size()),
                    core::coverage::marks[m].name.data(), marks_after[m] - marks_before[m]);
      out << line;
    }
  }
  bool marks_missing = false;
  if (o->on("require-marks") && !unhit.empty()) {
    marks_missing = true;
    out << "marks: " << unhit.size() << " coverage mark(s) never hit:";
    for (auto name : unhit)
      out << ' ' << name;
    out << "\n";
  }
  if (errors > 0) return 2;
  return failed == 0 && !marks_missing ? 0 : 1;
}

}  // namespace ccp::app
