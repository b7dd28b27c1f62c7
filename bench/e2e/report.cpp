#include "bench/e2e/report.hpp"

#include <cmath>
#include <cstdio>

namespace ccp::e2e {
namespace {

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string human(double v) {
  char buf[64];
  if (std::isnan(v)) return "n/a";
  if (std::fabs(v) >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
  } else if (std::fabs(v) >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else if (std::fabs(v) >= 100) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  }
  return buf;
}

void print(const report& rep, const options& o, const std::string& nats_url) {
  if (o.json) {
    std::printf("{\n  \"nats\": \"%s\",\n  \"seconds\": %g,\n  \"quick\": %s,\n",
                json_escape(nats_url).c_str(), o.seconds, o.quick ? "true" : "false");
    std::printf("  \"figures\": {\n");
    for (std::size_t i = 0; i < rep.figures.size(); ++i) {
      const auto& f = rep.figures[i];
      std::printf("    \"%s\": {\"value\": ", f.key.c_str());
      if (std::isnan(f.value)) {
        std::printf("null");
      } else {
        std::printf("%.6g", f.value);
      }
      std::printf(", \"unit\": \"%s\", \"versus\": \"%s\", \"verdict\": \"%s\"}%s\n",
                  json_escape(f.unit).c_str(), json_escape(f.versus).c_str(), f.verdict.c_str(),
                  i + 1 < rep.figures.size() ? "," : "");
    }
    std::printf("  },\n  \"notes\": [");
    for (std::size_t i = 0; i < rep.notes.size(); ++i)
      std::printf("%s\"%s\"", i ? ", " : "", json_escape(rep.notes[i]).c_str());
    std::printf("]\n}\n");
    return;
  }
  std::printf("\nccp end-to-end bench on loopback (nats %s, %gs per phase%s)\n\n", nats_url.c_str(),
              o.seconds, o.quick ? ", quick" : "");
  std::printf("%-46s %12s %-8s %-34s %s\n", "figure", "value", "unit", "baseline / target",
              "verdict");
  for (const auto& f : rep.figures)
    std::printf("%-46s %12s %-8s %-34s %s\n", f.label.c_str(), human(f.value).c_str(),
                f.unit.c_str(), f.versus.c_str(), f.verdict.c_str());
  if (!rep.notes.empty()) std::printf("\n");
  for (const auto& n : rep.notes)
    std::printf("note: %s\n", n.c_str());
}

}  // namespace ccp::e2e
