// Micro-benchmarks of addresses and the binary envelope codec, each reported next to a
// baseline measured in the same run (STYLE.md rule 14):
//   - nlohmann::json::parse of the same envelope as JSON text: what a text protocol
//     would pay per hop; read_header must beat it by at least 20x.
//   - memcpy of the frame bytes: the floor any per-hop work is compared with.
// Every benchmark reports `allocs_per_iter`, counted by the global operator new of
// bench/alloc_counter.hpp; read_header and the reused-buffer paths must show 0.
// bench/ratios.py runs this binary with repetitions and prints the ratios.

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/alloc_counter.hpp"
#include "core/address.hpp"
#include "core/message.hpp"
#include "text/message_json.hpp"

namespace {

using namespace ccp;
using bench::alloc_meter;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "codec_bench setup: %s\n", what);
  std::abort();
}

// ---------------------------------------------------------------------------------------
// Fixtures, built once and checked: a benchmark of a frame that does not decode would
// measure an error path.

constexpr std::string_view addr_ipv4 = "ccp://endpoint/10.0.0.7/billing-1";
constexpr std::string_view addr_dns = "ccp://endpoint/db-7.eu-west.example.net/billing-1";
// Canonical IPv6 text longer than std::string's inline buffer: a frame check must still
// not allocate.
constexpr std::string_view addr_ipv6 = "ccp://endpoint/[2001:db8:85a3::8a2e:370:7334]/billing-1";

// The frame window of the envelope benchmarks: a realistic small request.
constexpr std::size_t min_frame = 150;
constexpr std::size_t max_frame = 200;

struct envelope_fixture {
  core::message msg;
  std::string frame;
  std::string json_text;
};

envelope_fixture make_envelope(std::string_view to_text) {
  envelope_fixture f;
  auto from = core::address::parse("ccp://mgmt/10.0.0.1/m1");
  auto to = core::address::parse(to_text);
  if (!from || !to) die("fixture addresses do not parse");
  f.msg.id = 0x1234'5678'9abcULL;
  f.msg.kind = core::msg_kind::request;
  f.msg.from = *from;
  f.msg.to = *to;
  f.msg.type = "config.get";
  f.msg.ttl_ms = 5000;
  f.msg.body = R"({"keys":["db.pool_size","db.timeout_ms"],"rev":42,"stale":false})";
  auto frame = core::encode(f.msg);
  if (!frame) die("fixture message does not encode");
  f.frame = std::move(*frame);
  if (f.frame.size() < min_frame || f.frame.size() > max_frame)
    die("fixture frame is outside the 150-200 byte window");
  auto back = core::decode(f.frame);
  if (!back || *back != f.msg) die("fixture frame does not decode to the message");
  f.json_text = text::to_json_text(f.msg);
  if (!nlohmann::json::accept(f.json_text)) die("fixture JSON text is not JSON");
  return f;
}

// The request of the envelope benchmarks, to ccp://endpoint/10.0.0.7/billing-1.
const envelope_fixture& envelope() {
  static const envelope_fixture fx = make_envelope(addr_ipv4);
  return fx;
}

// The same request to an IPv6 host.
const envelope_fixture& envelope_ipv6() {
  static const envelope_fixture fx = make_envelope(addr_ipv6);
  return fx;
}

void frame_counters(benchmark::State& state, const envelope_fixture& fx, std::size_t bytes) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
  state.counters["frame_bytes"] = static_cast<double>(fx.frame.size());
}

// ---------------------------------------------------------------------------------------
// Addresses.

// Owning parse: validate, canonicalise, copy host and id into the address.
void BM_address_parse(benchmark::State& state, std::string_view text) {
  if (!core::address::parse(text)) die("address does not parse");
  alloc_meter meter;
  for (auto _ : state) {
    auto a = core::address::parse(text);
    benchmark::DoNotOptimize(a);
  }
  meter.report(state);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK_CAPTURE(BM_address_parse, ipv4, addr_ipv4);
BENCHMARK_CAPTURE(BM_address_parse, dns, addr_dns);

// View parse as read_header does it: canonical text only, no copy.
void BM_address_parse_view(benchmark::State& state, std::string_view text) {
  if (!core::parse_address_view(text, true)) die("address is not canonical");
  alloc_meter meter;
  for (auto _ : state) {
    auto v = core::parse_address_view(text, true);
    benchmark::DoNotOptimize(v);
  }
  meter.report(state);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK_CAPTURE(BM_address_parse_view, ipv4, addr_ipv4);
BENCHMARK_CAPTURE(BM_address_parse_view, dns, addr_dns);

// Format into a new string (one allocation once the text outgrows the inline buffer).
void BM_address_str(benchmark::State& state, std::string_view text) {
  auto a = core::address::parse(text);
  if (!a || a->str() != text) die("address is not canonical");
  alloc_meter meter;
  for (auto _ : state) {
    auto s = a->str();
    benchmark::DoNotOptimize(s.data());
    benchmark::ClobberMemory();
  }
  meter.report(state);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK_CAPTURE(BM_address_str, ipv4, addr_ipv4);
BENCHMARK_CAPTURE(BM_address_str, dns, addr_dns);

// Format into a reused string, as encode does.
void BM_address_append_to(benchmark::State& state, std::string_view text) {
  auto a = core::address::parse(text);
  if (!a) die("address does not parse");
  std::string out;
  out.reserve(core::max_address_bytes);
  alloc_meter meter;
  for (auto _ : state) {
    out.clear();
    a->append_to(out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  meter.report(state);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK_CAPTURE(BM_address_append_to, ipv4, addr_ipv4);
BENCHMARK_CAPTURE(BM_address_append_to, dns, addr_dns);

// ---------------------------------------------------------------------------------------
// The envelope.

void BM_encode(benchmark::State& state) {
  const auto& fx = envelope();
  std::string out;
  out.reserve(fx.frame.size());
  alloc_meter meter;
  for (auto _ : state) {
    out.clear();
    auto ok = core::encode(fx.msg, out);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  meter.report(state);
  if (out != fx.frame) die("encode into a reused buffer gave another frame");
  frame_counters(state, fx, fx.frame.size());
}
BENCHMARK(BM_encode);

// What a router does per hop: validate the whole header and both addresses, in place.
void BM_read_header(benchmark::State& state) {
  const auto& fx = envelope();
  std::string_view frame = fx.frame;
  alloc_meter meter;
  for (auto _ : state) {
    benchmark::DoNotOptimize(frame);  // the compiler may not assume it knows the bytes
    auto h = core::read_header(frame);
    benchmark::DoNotOptimize(h);
  }
  meter.report(state);
  frame_counters(state, fx, fx.frame.size());
}
BENCHMARK(BM_read_header);

// The same with an IPv6 destination, whose canonical form is checked by reformatting it.
void BM_read_header_ipv6(benchmark::State& state) {
  const auto& fx = envelope_ipv6();
  std::string_view frame = fx.frame;
  alloc_meter meter;
  for (auto _ : state) {
    benchmark::DoNotOptimize(frame);
    auto h = core::read_header(frame);
    benchmark::DoNotOptimize(h);
  }
  meter.report(state);
  frame_counters(state, fx, fx.frame.size());
}
BENCHMARK(BM_read_header_ipv6);

// What the final receiver does: read the header and copy every field into a message.
void BM_decode(benchmark::State& state) {
  const auto& fx = envelope();
  std::string_view frame = fx.frame;
  alloc_meter meter;
  for (auto _ : state) {
    benchmark::DoNotOptimize(frame);
    auto m = core::decode(frame);
    benchmark::DoNotOptimize(m);
  }
  meter.report(state);
  frame_counters(state, fx, fx.frame.size());
}
BENCHMARK(BM_decode);

// Baseline: the same envelope as JSON text, parsed into a DOM by nlohmann/json (the body
// is a JSON object inside it). Bytes processed are those of the JSON text.
void BM_nlohmann_parse(benchmark::State& state) {
  const auto& fx = envelope();
  std::string_view text = fx.json_text;
  alloc_meter meter;
  for (auto _ : state) {
    benchmark::DoNotOptimize(text);
    auto j = nlohmann::json::parse(text);
    benchmark::DoNotOptimize(j);
  }
  meter.report(state);
  frame_counters(state, fx, text.size());
  state.counters["json_bytes"] = static_cast<double>(text.size());
}
BENCHMARK(BM_nlohmann_parse);

// Baseline: copy the frame bytes into a preallocated buffer, the floor of any per-hop work.
void BM_memcpy_frame(benchmark::State& state) {
  const auto& fx = envelope();
  std::vector<char> buf(fx.frame.size());
  const char* src = fx.frame.data();
  std::size_t n = fx.frame.size();
  alloc_meter meter;
  for (auto _ : state) {
    benchmark::DoNotOptimize(src);
    benchmark::DoNotOptimize(n);
    std::memcpy(buf.data(), src, n);
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
  meter.report(state);
  frame_counters(state, fx, fx.frame.size());
}
BENCHMARK(BM_memcpy_frame);

}  // namespace

BENCHMARK_MAIN();
