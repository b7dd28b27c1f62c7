// Replays inputs through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer, so that
// the checked-in corpus (seeds and every crash reproducer added to it) runs as a regression
// test in the normal build, with any compiler (tests/CMakeLists.txt: fuzz.replay.*).
//
//   TARGET_replay PATH...   each PATH a file or a directory (its regular files, sorted)
//
// Exit status: 0 when every input ran (a failing check or a crash aborts the process, as
// under libFuzzer, after the input's name was printed); 1 when a PATH cannot be read or no
// input was found (an empty corpus would make the test pass without testing anything).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

// The inputs under `path`: itself when it is a file, else its regular files, sorted (the
// order of a run does not depend on the directory's).
bool inputs_of(const fs::path& path, std::vector<fs::path>& out) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    out.push_back(path);
    return true;
  }
  if (!fs::is_directory(path, ec)) {
    std::fprintf(stderr, "replay: '%s': not a file or directory\n", path.c_str());
    return false;
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) files.push_back(it->path());
  if (ec) {
    std::fprintf(stderr, "replay: '%s': %s\n", path.c_str(), ec.message().c_str());
    return false;
  }
  std::sort(files.begin(), files.end());
  out.insert(out.end(), files.begin(), files.end());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i)
    if (!inputs_of(argv[i], inputs)) return 1;
  if (inputs.empty()) {
    std::fprintf(stderr, "replay: no input (usage: %s FILE|DIR...)\n", argc > 0 ? argv[0] : "");
    return 1;
  }
  for (const fs::path& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: '%s': cannot read it\n", p.c_str());
      return 1;
    }
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    // Named first: a check that fails aborts, and the log then says which input did it.
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", p.c_str(), bytes.size());
    // A copy of exactly its size, as libFuzzer hands it: a read past the end is ASan's.
    const std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
    static const std::uint8_t none = 0;  // an empty input still has a valid pointer
    (void)LLVMFuzzerTestOneInput(data.empty() ? &none : data.data(), data.size());
  }
  std::printf("replay: %zu inputs ran\n", inputs.size());
  return 0;
}
