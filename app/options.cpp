#include "app/options.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

namespace ccp::app {
namespace {

const option_spec* find_spec(const command_spec& spec, std::string_view name) {
  for (const auto& s : spec.options)
    if (s.name == name) return &s;
  return nullptr;
}

const option_spec* find_short(const command_spec& spec, char c) {
  for (const auto& s : spec.options)
    if (s.short_name != 0 && s.short_name == c) return &s;
  return nullptr;
}

std::string upper_snake(std::string_view text) {
  std::string n;
  for (char c : text)
    n += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return n;
}

// What a switch's value may be, from --name=VALUE, a config file or the environment.
std::optional<bool> boolean(std::string_view v) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return std::nullopt;
}

std::expected<std::string, std::string> json_scalar(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  if (v.is_number()) return v.dump();
  return std::unexpected(std::string("expected a string, number or boolean"));
}

// `--json true` (or `-j true`): a switch takes no value, so `true` would silently become a
// positional (for `ccp request`, the body). Said as a usage error instead.
std::optional<std::string> switch_with_value(std::span<const std::string_view> args,
                                             const command_spec& spec) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--") break;
    const option_spec* s = nullptr;
    if (a.starts_with("--") && a.find('=') == std::string_view::npos)
      s = find_spec(spec, a.substr(2));
    else if (a.size() == 2 && a[0] == '-' && a[1] != '-')
      s = find_short(spec, a[1]);
    if (!s || !s->value.empty() || !boolean(args[i + 1])) continue;
    return "option " + std::string(a) + " takes no value: write " + std::string(a) + " or --" +
           std::string(s->name) + "=" + std::string(args[i + 1]) + " ('" +
           std::string(args[i + 1]) + "' would be taken as an argument; put arguments before " +
           "the options or after --)";
  }
  return std::nullopt;
}

// CLI11's messages in ours: "option --timeout needs a value (DURATION)", "unknown option
// --nope".
std::string explain(const CLI::ParseError& e) {
  std::string what = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    auto colon = what.find(": ");
    std::string rest = colon == std::string::npos ? what : what.substr(colon + 2);
    return "unknown option " + rest;
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
    // "--timeout: 1 required DURATION missing"
    auto colon = what.find(": ");
    auto req = what.find(" required ");
    auto miss = what.rfind(" missing");
    if (colon != std::string::npos && req != std::string::npos && miss != std::string::npos &&
        req + 10 <= miss)
      return "option " + what.substr(0, colon) + " needs a value (" +
             what.substr(req + 10, miss - req - 10) + ")";
  }
  return what;
}

}  // namespace

std::string env_name(std::string_view command, std::string_view option) {
  return "CCP_" + upper_snake(command) + "_" + upper_snake(option);
}

std::expected<std::string, std::string> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(std::string("cannot read: ") + std::strerror(errno));
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      return std::unexpected(std::string("cannot read: ") + std::strerror(e));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

std::expected<options, std::string> options::parse(std::span<const std::string_view> args,
                                                   const command_spec& spec) {
  if (auto e = switch_with_value(args, spec)) return std::unexpected(*e);

  CLI::App app{std::string(spec.about), "ccp " + std::string(spec.name)};
  app.set_help_flag();  // the help is ours (options_help), as is what it says
  options o;
  app.add_flag("-h,--help", o.help_);
  std::string config;
  app.add_option("--config", config)
      ->type_name("FILE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::vector<std::pair<const option_spec*, CLI::Option*>> given;
  for (const auto& s : spec.options) {
    std::string names = "--" + std::string(s.name);
    if (s.short_name != 0) names = std::string("-") + s.short_name + "," + names;
    CLI::Option* opt = nullptr;
    if (s.value.empty()) {
      opt = app.add_flag(names);
    } else {
      opt = app.add_option(names)->type_name(std::string(s.value))->expected(1);
      opt->multi_option_policy(s.repeat ? CLI::MultiOptionPolicy::TakeAll
                                        : CLI::MultiOptionPolicy::TakeLast);
    }
    given.emplace_back(&s, opt);
  }
  app.add_option("arguments", o.pos_);

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return std::unexpected(explain(e));
  }
  if (o.help_) return o;

  // Positionals: as many as declared (a variadic last one takes the rest).
  std::size_t required = 0;
  bool variadic = false;
  for (const auto& p : spec.positionals) {
    required += p.required;
    variadic = variadic || p.variadic;
  }
  if (!variadic && o.pos_.size() > spec.positionals.size())
    return std::unexpected("unexpected argument '" + o.pos_[spec.positionals.size()] + "'");
  if (o.pos_.size() < required) {
    std::string missing;
    for (std::size_t i = o.pos_.size(); i < spec.positionals.size(); ++i)
      if (spec.positionals[i].required)
        missing += (missing.empty() ? "" : " and ") + std::string(spec.positionals[i].name);
    return std::unexpected("missing " + missing);
  }

  // Lowest precedence first: fallback, environment, the config file, then the flags.
  for (const auto& s : spec.options) {
    entry& en = o.values_[std::string(s.name)];
    en.secret = s.secret;
    en.commas = s.commas;
    en.origin = {value_origin::kind::fallback, "--" + std::string(s.name)};
    if (!s.fallback.empty()) en.values = {std::string(s.fallback)};
    const std::string env = env_name(spec.name, s.name);
    if (const char* v = std::getenv(env.c_str()); v && *v) {
      if (s.value.empty() && !boolean(v))
        return std::unexpected(env + " '" + v + "': expected true or false");
      en.values = {v};
      en.origin = {value_origin::kind::env, env};
    }
  }
  if (!config.empty()) {
    const std::string where = "config file '" + config + "'";
    auto text = read_file(config);
    if (!text) return std::unexpected(where + ": " + text.error());
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(*text);
    } catch (const nlohmann::json::exception& e) {
      std::string_view why = e.what();  // "[json.exception.parse_error.101] parse error at"
      if (auto end = why.find("] "); end != std::string_view::npos) why.remove_prefix(end + 2);
      return std::unexpected(where + ": not JSON: " + std::string(why));
    }
    if (!j.is_object()) return std::unexpected(where + ": expected a JSON object");
    for (const auto& [key, v] : j.items()) {
      const option_spec* s = find_spec(spec, key);
      const std::string at = where + ", key \"" + key + "\"";
      if (!s) return std::unexpected(where + ": unknown option \"" + key + "\"");
      std::vector<std::string> vals;
      if (v.is_array()) {
        if (!s->repeat) return std::unexpected(at + ": expected one value, not a list");
        for (const auto& item : v) {
          auto x = json_scalar(item);
          if (!x) return std::unexpected(at + ": " + x.error());
          vals.push_back(*x);
        }
      } else {
        auto x = json_scalar(v);
        if (!x) return std::unexpected(at + ": " + x.error());
        if (s->value.empty() && !boolean(*x))
          return std::unexpected(at + ": expected true or false");
        vals.push_back(*x);
      }
      entry& en = o.values_[key];
      en.values = std::move(vals);
      en.origin = {value_origin::kind::config, at};
    }
  }
  for (const auto& [s, opt] : given) {
    if (opt->count() == 0) continue;
    entry& en = o.values_[std::string(s->name)];
    en.values = opt->results();
    en.origin = {value_origin::kind::flag, "--" + std::string(s->name)};
    if (s->value.empty()) {
      if (!boolean(en.values.back()))
        return std::unexpected("--" + std::string(s->name) + " '" + en.values.back() +
                               "': expected true or false");
      en.values = {en.values.back()};
    } else if (!s->repeat) {
      en.values = {en.values.back()};
    }
  }
  return o;
}

const options::entry* options::find(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

std::optional<std::string> options::get(std::string_view name) const {
  const entry* e = find(name);
  if (!e || e->values.empty()) return std::nullopt;
  return e->values.back();
}

std::string options::value(std::string_view name) const {
  auto v = get(name);
  return v ? *v : std::string();
}

bool options::on(std::string_view name) const {
  auto v = get(name);
  return v && boolean(*v).value_or(false);
}

std::vector<std::string> options::list(std::string_view name) const {
  std::vector<std::string> out;
  const entry* e = find(name);
  if (!e) return out;
  for (const auto& v : e->values) {
    if (!e->commas) {
      out.push_back(v);
      continue;
    }
    std::stringstream ss(v);
    std::string part;
    while (std::getline(ss, part, ','))
      if (!part.empty()) out.push_back(part);
  }
  return out;
}

const value_origin& options::origin(std::string_view name) const {
  static const value_origin none;
  const entry* e = find(name);
  return e ? e->origin : none;
}

std::string options::bad(std::string_view name, std::string_view what) const {
  const entry* e = find(name);
  std::string where = e ? e->origin.where : "--" + std::string(name);
  std::string text = e && e->secret ? "(hidden)" : "'" + value(name) + "'";
  std::string out = where + " " + text + ": " + std::string(what);
  if (e && e->origin.from == value_origin::kind::fallback) out += " (the default)";
  return out;
}

std::expected<std::int64_t, std::string> options::duration(std::string_view name, std::int64_t min,
                                                           std::int64_t max) const {
  auto d = parse_duration_micros(value(name));
  if (!d) return std::unexpected(bad(name, d.error()));
  if (*d < min)
    return std::unexpected(bad(name, min <= 1 ? std::string("must be more than 0")
                                              : "must be at least " + duration_text(min)));
  if (*d > max) return std::unexpected(bad(name, "must be at most " + duration_text(max)));
  return *d;
}

std::expected<std::uint64_t, std::string> options::count(std::string_view name, std::uint64_t min,
                                                         std::uint64_t max) const {
  const std::string text = value(name);
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-' || text[0] == '+' ||
      std::isspace(static_cast<unsigned char>(text[0])) || v < min || v > max)
    return std::unexpected(
        bad(name, "expected a number from " + std::to_string(min) + " to " + std::to_string(max)));
  return static_cast<std::uint64_t>(v);
}

std::expected<std::string, std::string> options::secret(std::string_view name,
                                                        std::string_view file_name) const {
  auto direct = get(name);
  auto file = get(file_name);
  if (direct && file)
    return std::unexpected(origin(name).where + " and " + origin(file_name).where +
                           " both give the secret: keep one");
  if (!file) return direct.value_or("");
  auto text = read_file(*file);
  if (!text) return std::unexpected(origin(file_name).where + " '" + *file + "': " + text.error());
  if (text->ends_with('\n')) text->pop_back();
  if (text->ends_with('\r')) text->pop_back();
  if (text->empty()) return std::unexpected(origin(file_name).where + " '" + *file + "': empty");
  return *text;
}

std::string usage_line(const command_spec& spec) {
  std::string u = "ccp " + std::string(spec.name);
  for (const auto& p : spec.positionals) {
    std::string n(p.name);
    if (p.variadic) n += "...";
    u += " " + (p.required ? n : "[" + n + "]");
  }
  if (!spec.options.empty()) u += " [options]";
  return u;
}

std::string options_help(const command_spec& spec) {
  std::string h = "usage: " + usage_line(spec) + "\n";
  if (!spec.about.empty()) h += "\n" + std::string(spec.about) + "\n";
  // "  --NAME VALUE" padded to one column where every help text starts, words wrapped
  // at 80 columns under that column.
  constexpr std::size_t column = 28, width = 80;
  auto line = [&h](std::string left, std::string_view help) {
    if (left.size() < column)
      left.resize(column, ' ');
    else
      left += "\n" + std::string(column, ' ');
    h += left;
    std::size_t at = column;
    while (!help.empty()) {
      auto end = help.find(' ');
      const std::string_view word = help.substr(0, end);
      if (at > column && at + 1 + word.size() > width) {
        h += "\n" + std::string(column, ' ');
        at = column;
      } else if (at > column) {
        h += ' ';
        ++at;
      }
      h += word;
      at += word.size();
      help.remove_prefix(end == std::string_view::npos ? help.size() : end + 1);
    }
    h += '\n';
    std::replace(h.begin(), h.end(), '\x1f', ' ');
  };
  if (!spec.positionals.empty()) {
    h += "\narguments:\n";
    for (const auto& p : spec.positionals)
      line("  " + std::string(p.name), p.help);
  }
  h += "\noptions (a flag beats --config FILE, which beats the environment):\n";
  for (const auto& s : spec.options) {
    std::string left = "  ";
    left += s.short_name != 0 ? std::string("-") + s.short_name + ", " : std::string("    ");
    left += "--" + std::string(s.name);
    if (!s.value.empty()) left += " " + std::string(s.value);
    // The bracket's "default X", "env NAME" are never cut at their spaces.
    std::string help(s.help);
    help += " [";
    if (!s.fallback.empty()) help += "default\x1f" + std::string(s.fallback) + "; ";
    if (s.repeat) help += "repeatable; ";
    help += "env\x1f" + env_name(spec.name, s.name) + "]";
    line(std::move(left), help);
  }
  line("      --config FILE", "JSON object of the options above, keys without dashes");
  line("  -h, --help", "this help");
  return h;
}

std::expected<std::int64_t, std::string> parse_duration_micros(std::string_view text) {
  const auto fail = [&] {
    return std::unexpected("expected a number and a unit (us, ms, s, m, h), e.g. 500ms");
  };
  std::size_t i = 0;
  // Whole and fractional digits in integers: no floating-point rounding, no overflow
  // (more than 12 whole digits exceeds max_duration_micros in any unit).
  std::int64_t whole = 0, frac = 0, frac_scale = 1;
  bool digits = false;
  std::size_t whole_digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (++whole_digits > 12) return std::unexpected("more than the maximum of 24h");
    whole = whole * 10 + (text[i++] - '0');
    digits = true;
  }
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      if (frac_scale < 1'000'000'000) {
        frac = frac * 10 + (text[i] - '0');
        frac_scale *= 10;
      }
      digits = true;
    }
  }
  const std::string_view unit = text.substr(i);
  std::int64_t f = 0;
  if (unit == "us")
    f = 1;
  else if (unit == "ms")
    f = 1000;
  else if (unit == "s")
    f = 1'000'000;
  else if (unit == "m")
    f = 60'000'000;
  else if (unit == "h")
    f = 3'600'000'000;
  if (!digits || f == 0) return fail();
  if (whole > max_duration_micros / f) return std::unexpected("more than the maximum of 24h");
  const std::int64_t v = whole * f + frac * f / frac_scale;
  if (v > max_duration_micros) return std::unexpected("more than the maximum of 24h");
  return v;
}

std::string duration_text(std::int64_t us) {
  auto fmt = [](std::int64_t v, std::int64_t unit, const char* name) {
    std::string s = std::to_string(v / unit);
    if (const std::int64_t rest = v % unit; rest != 0) {
      std::string f = std::to_string(rest);
      f.insert(0, std::to_string(unit).size() - 1 - f.size(), '0');
      while (f.ends_with('0'))
        f.pop_back();
      s += "." + f;
    }
    return s + name;
  };
  if (us >= 3'600'000'000 && us % 3'600'000'000 == 0) return fmt(us, 3'600'000'000, "h");
  if (us >= 60'000'000 && us % 60'000'000 == 0) return fmt(us, 60'000'000, "m");
  if (us >= 1'000'000) return fmt(us, 1'000'000, "s");
  if (us >= 1000) return fmt(us, 1000, "ms");
  return std::to_string(us) + "us";
}

}  // namespace ccp::app
