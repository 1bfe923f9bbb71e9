// Fuzz target: what portierd reads back from its own disk after a crash or tampering — the
// spool's segment files — is hostile input too. The input (after a first byte kept for the
// corpus's sake) is a segment's content. Opening must never crash, hang or accept a record that
// does not authenticate: the spool then yields nothing (no record in the input can carry a valid
// tag under the keys made here) and keeps working (a record appended afterwards is read back).
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/counters.h"
#include "gateway/store/spool.h"
#include "platform/key_directory.h"
#include "tests/fuzz/fuzz_files.h"

namespace {

using namespace portier;

using fuzz::write_file;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "fuzz_store_recovery: %s\n", what);
  std::abort();
}

void fuzz_spool(const std::string& dir, const std::uint8_t* data, std::size_t size) {
  ::mkdir((dir + "/spool").c_str(), 0700);
  write_file(dir + "/spool/00000000000000000001.seg", data, size);
  auto keys = platform::key_directory::open(dir + "/keys");
  if (!keys) violated("key directory");
  gateway::counters stats;
  const std::vector<std::uint8_t> secret(32, 7);
  gateway::spool_options o;
  o.dir = dir + "/spool";
  o.max_bytes = 1 << 20;
  o.sync = gateway::spool_options::durability::none;
  auto sp = gateway::spool::open(o, **keys, secret, stats);
  if (!sp) return;  // refused with a clear error: fine
  const auto soon = [] { return gateway::spool::clock::now(); };
  if ((*sp)->next(soon(), 64, 0)) violated("a record without a valid tag was returned");
  // Still usable: a new record goes in and comes out.
  if ((*sp)->append("p", "t", "payload", 1, "dev", "cls", 0, soon()) == 0)
    violated("append failed");
  auto e = (*sp)->next(soon(), 64, 0);
  if (!e || e->payload != "payload") violated("the appended record was not read back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string dir = fuzz::work_dir("fuzz-store") + "/run";
  fuzz::remove_tree(dir);
  ::mkdir(dir.c_str(), 0700);
  fuzz_spool(dir, data + 1, size - 1);
  return 0;
}
