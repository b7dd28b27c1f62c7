#include "net/trace_hook.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "core/control.hpp"
#include "net/link.hpp"

namespace ccp::net {
namespace {

std::atomic<int> trace_fd{-1};
core::micros trace_origin = 0;
std::mutex trace_mutex;

void quoted(std::string& l, std::string_view key, std::string_view value) {
  l += ",\"";
  l += key;
  l += "\":\"";
  l += value;  // addresses and enum names: no character JSON must escape
  l += '"';
}

// `s` as the inside of a JSON string: a socket's reason or a URL may hold any byte.
std::string escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      out += '?';  // control bytes and non-ASCII: the reason stays readable and valid
    } else {
      out += c;
    }
  }
  return out;
}

class traced_app final : public host::application {
 public:
  explicit traced_app(std::unique_ptr<host::application> inner) : inner_(std::move(inner)) {}
  void deliver(core::node& role, const core::message& m, core::micros now) override {
    std::string l = trace_file::start("deliver");
    quoted(l, "at", role.self().str());
    quoted(l, "from", m.from.str());
    l += ",\"id\":" + std::to_string(m.id);
    quoted(l, "kind", core::to_string(m.kind));
    quoted(l, "to", m.to.str());
    l += '}';
    trace_file::write(l);
    if (inner_) inner_->deliver(role, m, now);
  }
  void complete(core::node& role, core::act::complete& c, core::micros now) override {
    std::string l = trace_file::start("complete");
    quoted(l, "at", role.self().str());
    l += ",\"id\":" + std::to_string(c.request);
    quoted(l, "code", c.code == core::errc{} ? std::string_view("ok") : core::to_string(c.code));
    l += ",\"replies\":[";
    for (std::size_t k = 0; k < c.replies.size(); ++k) {
      l += k ? ",[\"" : "[\"";
      l += c.replies[k].from.str() + "\",\"";
      l += core::to_string(c.replies[k].kind);
      l += "\"]";
    }
    l += "]";
    if (!c.members.empty()) {
      l += ",\"members\":[";
      for (std::size_t k = 0; k < c.members.size(); ++k) {
        l += k ? ",[\"" : "[\"";
        l += c.members[k].member.str() + "\",\"";
        l += core::act::to_string(c.members[k].result);
        l += "\"]";
      }
      l += "]";
    }
    l += '}';
    trace_file::write(l);
    if (inner_) inner_->complete(role, c, now);
  }
  void ready(core::node& role, core::micros now) override {
    if (inner_) inner_->ready(role, now);
  }
  void drained(core::node& role, core::micros now) override {
    if (inner_) inner_->drained(role, now);
  }

 private:
  std::unique_ptr<host::application> inner_;
};

}  // namespace

std::string trace_file::open(const std::string& path, core::micros origin) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot open trace file " + path + ": " + std::strerror(errno);
  trace_origin = origin;
  trace_fd.store(fd);
  return {};
}

void trace_file::close() {
  std::lock_guard lock(trace_mutex);
  const int fd = trace_fd.exchange(-1);
  if (fd >= 0) ::close(fd);
}

bool trace_file::on() noexcept {
  return trace_fd.load() >= 0;
}

void trace_file::write(std::string_view line) {
  if (trace_fd.load() < 0) return;
  std::string buf(line);
  buf += '\n';
  std::lock_guard lock(trace_mutex);
  const int fd = trace_fd.load();  // again, under the lock: close() may have run meanwhile
  if (fd < 0) return;
  // O_APPEND and one write per line: lines never interleave. A short write (disk full)
  // loses the rest of that line, which the runner reports as an unreadable line.
  [[maybe_unused]] auto n = ::write(fd, buf.data(), buf.size());
}

std::string trace_file::start(std::string_view kind) {
  std::string l = "{\"t\":" + std::to_string(now_micros() - trace_origin) + ",\"ev\":\"";
  l += kind;
  l += '"';
  return l;
}

void trace_link(std::string_view kind, std::string_view self, core::link_id id,
                std::string_view peer, std::string_view why) {
  if (!trace_file::on()) return;
  std::string l = trace_file::start(kind);
  quoted(l, "at", self);
  l += ",\"link\":" + std::to_string(id);
  // An accepted link's peer is the agent's own claim until its hello: any bytes.
  if (!peer.empty() && peer != "-") quoted(l, "peer", escaped(peer));
  if (!why.empty()) quoted(l, "why", escaped(why));
  l += '}';
  trace_file::write(l);
}

void trace_dial(std::string_view self, core::link_id id, std::string_view target) {
  if (!trace_file::on()) return;
  std::string l = trace_file::start("dial");
  quoted(l, "at", self);
  l += ",\"link\":" + std::to_string(id);
  quoted(l, "target", escaped(target));
  l += '}';
  trace_file::write(l);
}

void trace_attachment(std::string_view kind, std::string_view self, std::string_view proxy,
                      std::uint64_t epoch, std::string_view why) {
  if (!trace_file::on()) return;
  std::string l = trace_file::start(kind);
  quoted(l, "at", self);
  quoted(l, "proxy", proxy);
  l += ",\"epoch\":" + std::to_string(epoch);
  if (!why.empty()) quoted(l, "why", escaped(why));
  l += '}';
  trace_file::write(l);
}

std::uint64_t hello_epoch(std::string_view body) {
  auto parsed = core::parse_flat_json(body);
  const std::uint64_t* epoch = parsed ? parsed->number("epoch") : nullptr;
  return epoch ? *epoch : 0;
}

std::unique_ptr<host::application> traced(std::unique_ptr<host::application> app) {
  if (!trace_file::on()) return app;
  return std::make_unique<traced_app>(std::move(app));
}

}  // namespace ccp::net
