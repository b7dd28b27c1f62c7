// Network namespaces, veths and nftables rules for `ccp real` (see real_netns.hpp).
#include "app/real_netns.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "testkit/process.hpp"

namespace ccp::app {
namespace {

constexpr int blocks = 16384;  // /30 blocks in 10.201.0.0/16

std::string tool(const char* name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    const std::string p = std::string(dir) + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

// Runs argv (argv[0] a tool's name), bounded by 10 s; its output. Throws naming the command
// and what it said when it fails.
std::string run(std::vector<std::string> argv, bool must = true) {
  const std::string path = tool(argv.at(0).c_str());
  std::string shown;
  for (const auto& a : argv)
    shown += (shown.empty() ? "" : " ") + a;
  if (path.empty()) {
    if (!must) return {};
    throw std::runtime_error("ccp real: " + argv[0] + " is not installed (needed for: " + shown +
                             ")");
  }
  argv[0] = path;
  char tmpl[] = "/tmp/ccp-real-netns-out-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("ccp real: cannot create a temporary file");
  ::close(fd);
  std::optional<int> status;
  {
    testkit::process p(argv, std::string(tmpl));
    status = p.wait(std::chrono::seconds(10));
    if (!status) p.kill();
  }
  std::ifstream in(tmpl);
  std::stringstream out;
  out << in.rdbuf();
  ::unlink(tmpl);
  if (must && status != 0)
    throw std::runtime_error("ccp real: '" + shown + "' failed" +
                             (status ? " (exit " + std::to_string(*status) + ")" : " (hung)") +
                             ": " + out.str());
  return out.str();
}

// One lock for every run on this machine while it picks addresses or cleans up.
class machine_lock {
 public:
  machine_lock() {
    fd_ = ::open("/run/lock/ccp-real-netns.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) fd_ = ::open("/tmp/ccp-real-netns.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) (void)::flock(fd_, LOCK_EX);
  }
  ~machine_lock() {
    if (fd_ >= 0) ::close(fd_);
  }
  machine_lock(const machine_lock&) = delete;
  machine_lock& operator=(const machine_lock&) = delete;

 private:
  int fd_ = -1;
};

std::string block_address(int block, int host) {
  const int n = block * 4 + host;
  return "10.201." + std::to_string(n / 256) + "." + std::to_string(n % 256);
}

// Whether the runner `pid` is alive: a live process of ours, `ccp` or one of its test
// binaries (`ccp_app_tests` makes namespaces too, and its tests run beside each other).
bool live_runner(long pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name == "ccp" || name.starts_with("ccp_");
}

}  // namespace

bool real_accepts(const std::string& host, int port) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::inet_pton(AF_INET, host.c_str(), &a.sin_addr) == 1 &&
                  ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

real_netns::real_netns(std::string scratch) : scratch_(std::move(scratch)), pid_(::getpid()) {}

real_netns::~real_netns() {
  remove();
}

std::string real_netns::unavailable() {
  if (::geteuid() != 0) return "they need root (network namespaces and nftables)";
  if (tool("ip").empty()) return "they need ip (Debian iproute2), which is not installed";
  if (tool("nft").empty()) return "they need nft (Debian nftables), which is not installed";
  if (tool("ss").empty()) return "they need ss (Debian iproute2), which is not installed";
  return {};
}

std::vector<std::string> real_netns::clean_stale() {
  std::vector<std::string> gone;
  if (!unavailable().empty()) return gone;
  machine_lock lock;
  std::set<long> dead;
  auto stale = [&](long pid) {
    if (live_runner(pid)) return false;
    dead.insert(pid);
    return true;
  };
  static const std::regex ns_name(R"(ccp-([0-9]+)-[a-z][0-9]+)");
  static const std::regex veth_name(R"(ccp([0-9]+)[a-z][0-9]+)");
  static const std::regex table_name(R"(table ip ccp_([0-9]+))");
  std::smatch m;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string n = e.path().filename().string();
    if (std::regex_match(n, m, ns_name) && stale(std::stol(m[1]))) {
      run({"ip", "netns", "del", n}, false);
      gone.push_back("namespace " + n);
    }
  }
  std::istringstream links(run({"ip", "-o", "link", "show"}, false));
  for (std::string l; std::getline(links, l);) {
    // "7: ccp123p0@if2: <...": the name ends at '@' or ':'.
    const auto a = l.find(": ");
    if (a == std::string::npos) continue;
    const std::string n = l.substr(a + 2, l.find_first_of("@:", a + 2) - (a + 2));
    if (std::regex_match(n, m, veth_name) && stale(std::stol(m[1]))) {
      run({"ip", "link", "del", n}, false);
      gone.push_back("veth " + n);
    }
  }
  std::istringstream tables(run({"nft", "list", "tables"}, false));
  for (std::string l; std::getline(tables, l);)
    if (std::regex_match(l, m, table_name) && stale(std::stol(m[1]))) {
      run({"nft", "delete", "table", "ip", "ccp_" + m[1].str()}, false);
      gone.push_back("nftables table ip ccp_" + m[1].str());
    }
  return gone;
}

const real_netns::space& real_netns::add(const std::string& tag) {
  static const std::regex tag_form("[a-z][0-9]{1,3}");
  if (!std::regex_match(tag, tag_form)) throw std::logic_error("real_netns: bad tag '" + tag + "'");
  machine_lock lock;
  // The /30 blocks of 10.201.0.0/16 that an interface holds now are taken.
  std::set<int> taken;
  static const std::regex inet(R"(inet 10\.201\.([0-9]+)\.([0-9]+)/)");
  const std::string addrs = run({"ip", "-4", "-o", "addr", "show"});
  for (std::sregex_iterator it(addrs.begin(), addrs.end(), inet), end; it != end; ++it)
    taken.insert((std::stoi((*it)[1]) * 256 + std::stoi((*it)[2])) / 4);
  int block = 0;
  while (block < blocks && taken.contains(block))
    ++block;
  if (block == blocks) throw std::runtime_error("ccp real: no free /30 left in 10.201.0.0/16");

  space s;
  s.name = "ccp-" + std::to_string(pid_) + "-" + tag;
  s.veth = "ccp" + std::to_string(pid_) + tag;
  s.outside = block_address(block, 1);
  s.inside = block_address(block, 2);
  // Recorded first: remove() takes away whatever part of it was made.
  spaces_.push_back(s);
  if (!table_) {
    run({"nft", "add", "table", "ip", "ccp_" + std::to_string(pid_)});
    table_ = true;
    run({"nft", "add chain ip ccp_" + std::to_string(pid_) +
                    " pre { type nat hook prerouting priority dstnat; policy accept; }"});
  }
  run({"ip", "netns", "add", s.name});
  run({"ip", "-n", s.name, "link", "set", "lo", "up"});
  run({"ip", "link", "add", s.veth, "type", "veth", "peer", "name", "eth0", "netns", s.name});
  {
    std::ofstream o("/proc/sys/net/ipv4/conf/" + s.veth + "/route_localnet");
    o << "1\n";
    if (!o.flush()) throw std::runtime_error("ccp real: cannot set route_localnet on " + s.veth);
  }
  run({"ip", "addr", "add", s.outside + "/30", "dev", s.veth});
  run({"ip", "link", "set", s.veth, "up"});
  run({"ip", "-n", s.name, "addr", "add", s.inside + "/30", "dev", "eth0"});
  run({"ip", "-n", s.name, "link", "set", "eth0", "up"});
  run({"ip", "-n", s.name, "route", "add", "default", "via", s.outside});
  run({"nft", "add rule ip ccp_" + std::to_string(pid_) + " pre iifname \"" + s.veth +
                  "\" ip daddr " + s.outside + " dnat to 127.0.0.1"});
  return spaces_.back();
}

std::vector<std::string> real_netns::exec_prefix(const space& s) const {
  return {tool("ip"), "netns", "exec", s.name};
}

std::string real_netns::inside_url(const space& s, std::string url) {
  const std::string lo = "127.0.0.1";
  for (auto p = url.find(lo); p != std::string::npos; p = url.find(lo, p + s.outside.size()))
    url.replace(p, lo.size(), s.outside);
  return url;
}

void real_netns::rules(const space& s, const std::string& script) {
  const std::string file = scratch_ + "/" + s.name + ".nft";
  {
    std::ofstream o(file);
    o << script;
    if (!o.flush()) throw std::runtime_error("ccp real: cannot write " + file);
  }
  run({"ip", "netns", "exec", s.name, tool("nft"), "-f", file});
}

void real_netns::cut(const space& s, int port) {
  const std::string p = std::to_string(port);
  rules(s,
        "table ip ccp {\n"
        "  chain in { type filter hook input priority 0; policy accept; }\n"
        "  chain out { type filter hook output priority 0; policy accept; }\n"
        "}\n"
        "add rule ip ccp in iifname \"eth0\" ip saddr " +
            s.outside + " tcp sport " + p +
            " drop\n"
            "add rule ip ccp out oifname \"eth0\" ip daddr " +
            s.outside + " tcp dport " + p + " drop\n");
}

void real_netns::half_open(const space& s, const std::vector<int>& ports) {
  // "ESTAB 0 0 10.201.0.2:40000 10.201.0.1:7700": the last two words are local and peer.
  std::istringstream conns(
      run({"ip", "netns", "exec", s.name, tool("ss"), "-Htn", "state", "established"}));
  std::string script =
      "table ip ccp {\n"
      "  chain in { type filter hook input priority 0; policy accept; }\n"
      "  chain out { type filter hook output priority 0; policy accept; }\n"
      "}\n";
  std::vector<std::pair<std::string, std::string>> hit;  // local port, peer port
  for (std::string l; std::getline(conns, l);) {
    std::istringstream words(l);
    std::vector<std::string> w;
    for (std::string x; words >> x;)
      w.push_back(x);
    if (w.size() < 2) continue;
    const std::string local = w[w.size() - 2], peer = w[w.size() - 1];
    const auto lc = local.rfind(':'), pc = peer.rfind(':');
    if (lc == std::string::npos || pc == std::string::npos) continue;
    if (peer.substr(0, pc) != s.outside) continue;
    const std::string lp = local.substr(lc + 1), pp = peer.substr(pc + 1);
    bool ours = false;
    for (int port : ports)
      ours = ours || pp == std::to_string(port);
    if (!ours) continue;
    hit.emplace_back(lp, pp);
    script += "add rule ip ccp in iifname \"eth0\" ip saddr " + s.outside + " tcp sport " + pp +
              " tcp dport " + lp + " drop\n";
    script += "add rule ip ccp out oifname \"eth0\" ip daddr " + s.outside + " tcp dport " + pp +
              " tcp sport " + lp + " drop\n";
  }
  rules(s, script);
  // The namespace's side of each: closed at once (its reset to the peer is dropped above).
  for (const auto& [lp, pp] : hit)
    run({"ip", "netns", "exec", s.name, tool("ss"), "-K", "-tn", "dst", s.outside, "dport", "=",
         ":" + pp, "sport", "=", ":" + lp});
}

void real_netns::uncut(const space& s) {
  run({"ip", "netns", "exec", s.name, tool("nft"), "delete", "table", "ip", "ccp"}, false);
}

void real_netns::remove() noexcept {
  try {
    for (const space& s : spaces_) {
      run({"ip", "link", "del", s.veth}, false);  // both ends, and its addresses
      run({"ip", "netns", "del", s.name}, false);
      std::error_code ec;
      std::filesystem::remove(scratch_ + "/" + s.name + ".nft", ec);
    }
    spaces_.clear();
    if (table_) run({"nft", "delete", "table", "ip", "ccp_" + std::to_string(pid_)}, false);
    table_ = false;
  } catch (...) {
    // remove() runs on every way out: what it could not remove, clean_stale() will.
  }
}

}  // namespace ccp::app
