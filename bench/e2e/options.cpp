#include "bench/e2e/options.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace ccp::e2e {
namespace {

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "ccp_e2e_bench: %s\n"
               "usage: ccp_e2e_bench [--nats URL] [--seconds S] [--connections N]\n"
               "         [--phases idle,raw,chain,req] [--host-bus nats|inproc|both]\n"
               "         [--window W] [--frame-bytes B] [--sequential N] [--json] [--quick]\n",
               why.c_str());
  std::exit(2);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

options parse_options(int argc, char** argv) {
  options o;
  bool seconds_set = false, connections_set = false, sequential_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto number = [&](double lo) {
      const std::string v = value();
      char* end = nullptr;
      const double d = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(d >= lo)) usage(a + ": bad number '" + v + "'");
      return d;
    };
    if (a == "--nats") {
      o.nats = value();
    } else if (a == "--seconds") {
      o.seconds = number(0.1);
      seconds_set = true;
    } else if (a == "--connections") {
      o.connections = static_cast<std::size_t>(number(1));
      connections_set = true;
    } else if (a == "--window") {
      o.window = static_cast<std::size_t>(number(1));
    } else if (a == "--frame-bytes") {
      o.frame_bytes = static_cast<std::size_t>(number(100));
    } else if (a == "--sequential") {
      o.sequential = static_cast<std::size_t>(number(10));
      sequential_set = true;
    } else if (a == "--phases") {
      o.phases = split(value());
    } else if (a == "--host-bus") {
      const std::string v = value();
      if (v == "both") {
        o.host_buses = {"nats", "inproc"};
      } else if (v == "nats" || v == "inproc") {
        o.host_buses = {v};
      } else {
        usage("--host-bus: nats, inproc or both");
      }
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "-h" || a == "--help") {
      usage("help");
    } else {
      usage("unknown option '" + a + "'");
    }
  }
  if (o.quick) {
    if (!seconds_set) o.seconds = 0.5;
    if (!connections_set) o.connections = 200;
    if (!sequential_set) o.sequential = 200;
  }
  for (const auto& p : o.phases)
    if (p != "idle" && p != "raw" && p != "chain" && p != "req") usage("unknown phase '" + p + "'");
  return o;
}

bool has_phase(const options& o, std::string_view p) {
  return std::find(o.phases.begin(), o.phases.end(), p) != o.phases.end();
}

}  // namespace ccp::e2e
