// Writes the seed corpus of each fuzz target into DIR/<target>/ (fuzz/corpus/ in the
// repository): valid addresses, frames, batches and control bodies as the codec encodes
// them, and, for the stateful targets, event sequences in the byte format their decoders
// read (fuzz/role_fuzz.hpp, proxy_fuzz.cpp, agent_fuzz.cpp) that attach an agent and carry
// traffic, so that a run starts deep in the roles. Scenario seeds are copies of files of
// scenarios/ (scripts/fuzz.sh --seeds).
//
//   fuzz_seeds DIR
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/control.hpp"
#include "core/message.hpp"
#include "net/frame_batch.hpp"

using namespace ccp;
namespace fs = std::filesystem;

namespace {

fs::path root;

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = root / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

core::message msg(core::msg_kind kind, std::uint64_t id, const char* from, const char* to,
                  const char* type, std::string body) {
  core::message m;
  m.kind = kind;
  m.id = id;
  m.from = *core::address::parse(from);
  m.to = *core::address::parse(to);
  m.type = type;
  m.body = std::move(body);
  return m;
}

std::string encoded(const core::message& m) {
  auto f = core::encode(m);
  if (!f) {
    std::fprintf(stderr, "fuzz_seeds: a seed message does not encode\n");
    std::exit(1);
  }
  return *f;
}

// Event bytes for the stateful targets, written as their decoders read them.
std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b)
    s.push_back(static_cast<char>(x));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  root = argv[1];

  // Addresses: every form, each kind of host.
  int n = 0;
  for (const char* a :
       {"ccp://endpoint/10.0.0.7/billing-1", "ccp://proxy/any", "ccp://agent/all",
        "ccp://endpoint/10.0.0.7/any", "ccp://endpoint/[2001:db8::1]/all",
        "ccp://mgmt/Mgmt-1.Example.COM/m1", "ccp://endpoint/[::ffff:10.0.0.1]/e_1.x"})
    write("address_fuzz", "seed-" + std::to_string(n++), a);

  // Frames of each kind, and the control bodies they carry.
  const std::string hello = core::flat_json_writer{}
                                .add("epoch", std::uint64_t{101})
                                .add("token", "s3cret")
                                .add("endpoints", std::vector<std::string>{"e1", "e2"})
                                .finish();
  const std::string route = core::flat_json_writer{}
                                .add("op", "attach")
                                .add("host", "10.0.0.7")
                                .add("epoch", std::uint64_t{3})
                                .add("agent", "ccp://agent/10.0.0.7/agent")
                                .finish();
  const std::string escaped = core::flat_json_writer{}
                                  .add("text", "a \"quoted\" \\ line\n\x01")
                                  .add("n", UINT64_MAX)
                                  .finish();
  using core::msg_kind;
  core::message req = msg(msg_kind::request, 7, "ccp://agent/10.0.0.7/agent", "ccp://proxy/any",
                          "ccp.hello", hello);
  req.ttl_ms = 5000;
  core::message resp = msg(msg_kind::response, 9, "ccp://endpoint/10.0.0.7/e1",
                           "ccp://mgmt/10.0.2.1/m1", "echo", R"({"q":1})");
  resp.correlation = 42;
  resp.hops = 2;
  core::message err =
      msg(msg_kind::error, 10, "ccp://proxy/10.0.1.1/p1", "ccp://mgmt/10.0.2.1/m1", "echo", "");
  err.correlation = 42;
  err.code = core::errc::unreachable;
  err.text = "no route to 10.0.0.8";
  core::message note = msg(msg_kind::notification, 900, "ccp://proxy/10.0.1.2/p2",
                           "ccp://proxy/all", "ccp.route", route);
  n = 0;
  for (const auto* m : {&req, &resp, &err, &note})
    write("frame_fuzz", "seed-" + std::to_string(n++), encoded(*m));

  n = 0;
  for (const std::string& body : {hello, route, escaped, std::string("{}")})
    write("control_fuzz", "seed-" + std::to_string(n++), body);

  // Batches of one, two and three frames (one of them empty).
  std::vector<core::frame_ptr> frames = {std::make_shared<const std::string>(encoded(req)),
                                         std::make_shared<const std::string>(encoded(resp)),
                                         nullptr};
  std::string batch;
  for (std::size_t k = 1; k <= frames.size(); ++k) {
    net::encode_batch(std::span(frames.data(), k), batch);
    write("batch_fuzz", "seed-" + std::to_string(k), batch);
  }

  // Event bytes, one event a line (clang-format would pack them).
  // clang-format off
  // The proxy: an agent attaches (link_up, its hello), mgmt's request for its endpoint
  // comes on the bus, a heartbeat passes, the endpoint answers, the application asks
  // ccp://endpoint/all, the link drops, the proxy drains, time runs out.
  write("proxy_fuzz", "attach-and-route",
        bytes({1,                                       // proxy seed
               0,                                       // link_up (link 1)
               1, 0, 1, 0, 7, 2, 8, 0, 1, 0, 2, 1, 0, 0, 1, 0,  // hello: e1, epoch 1, s3cret
               6, 3, 1, 0, 42, 7, 4, 12, 1, 0, 1,       // bus: mgmt -> e1 echo
               8, 4,                                    // a heartbeat interval
               1, 0, 1, 1, 9, 4, 7, 12, 0, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,  // e1's response
               9, 13, 12, 1, 2, 1,                      // request ccp://endpoint/all echo
               8, 5,                                    // idle timeout
               4, 0,                                    // link down
               11,                                      // drain
               8, 8}));
  // Two agents of one host attach in turn (the later epoch fences the first), a route of
  // another proxy arrives, the proxy drains with an agent attached.
  write("proxy_fuzz", "fence-and-drain",
        bytes({2, 0, 1, 0, 1, 0, 7, 2, 8, 0, 1, 0, 2, 1, 0, 0, 5, 0,  // link 1: epoch 5
               0, 1, 1, 1, 0, 8, 2, 8, 0, 1, 0, 2, 1, 0, 0, 9, 0,     // link 2: epoch 9
               6, 1, 1, 2, 90, 1, 8, 3, 0, 0, 3, 1, 0, 0, 20, 0, 0,  // route of p2
               11, 8, 4, 8, 6}));

  // The agent: it dials, its link comes up, the proxy welcomes its hello, an endpoint
  // registers, mgmt's request for it arrives, a heartbeat passes, the proxy says drain, the
  // agent dials the next, that one comes up, then it stops.
  write("agent_fuzz", "connect-register-move",
        bytes({0, 1,                                    // no shuffle, seed 1
               8, 0,                                    // tick at 0: dial link 1
               0, 0,                                    // link 1 up: hello
               1, 0, 1, 1, 50, 0, 2, 0, 1, 0, 0, 6, 0,  // welcome (correlates the hello)
               6, 1, 1, 0, 5, 4, 18, 8, 0, 0, 5, 1,     // e1 registers, nonce 1
               1, 0, 1, 0, 42, 7, 4, 12, 1, 1, 1,       // mgmt -> e1 echo
               8, 4,                                    // a heartbeat interval
               1, 0, 1, 2, 51, 0, 2, 4, 0, 0, 1,        // ccp.drain
               8, 5, 0, 0,                              // the next dial comes up
               1, 1, 1, 1, 52, 1, 2, 0, 1, 0, 0, 6, 1,  // p2's welcome on link 2
               9, 7, 12, 1, 2, 1,                       // request ccp://mgmt/m1 echo
               11, 8, 8}));
  write("agent_fuzz", "refused-and-backoff",
        bytes({1, 7, 8, 0, 0, 0,
               1, 0, 1, 3, 50, 0, 2, 0, 1, 5, 0, 0, 1,  // an error answering the hello
               8, 3, 8, 4, 4, 1, 0, 8, 6, 0, 0, 8, 8}));
  // clang-format on
  return 0;
}
