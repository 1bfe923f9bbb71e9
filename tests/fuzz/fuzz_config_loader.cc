// libFuzzer target: portierd's configuration loader (load_gateway_config) and the start-up checks
// (check_startup) on whatever loads. The input is the text of a configuration file.
//
// Loading must never crash or hang. A refused file gives an error that names the file. A loaded
// configuration has every default applied and every value within its documented range, URIs without
// user info, and preset purposes that are valid ids; the start-up checks then run (they only read
// the file system) and every error or warning they give names the file.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "gateway/gateway_config.h"
#include "gateway/startup_checks.h"
#include "policies/policy_compiler.h"
#include "policies/policy_source.h"

namespace {

using namespace portier;

std::string* config_path = nullptr;
std::shared_ptr<const policies::compiled_policy>* fixed_policy = nullptr;

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "fuzz_config_loader: %s\n", what.c_str());
  std::abort();
}

void in_range(const char* field, std::uint64_t v, std::uint64_t lo, std::uint64_t hi) {
  if (v < lo || v > hi)
    violated(std::string(field) + " out of range after loading: " + std::to_string(v));
}

bool has_user_info(const std::string& uri) {
  const auto scheme = uri.find("://");
  const std::string_view rest =
      std::string_view(uri).substr(scheme == std::string::npos ? 0 : scheme + 3);
  return rest.substr(0, rest.find_first_of("/?#")).find('@') != std::string_view::npos;
}

void every_line_names_the_file(const std::string& text, const char* what) {
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string line =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (line.rfind(*config_path, 0) != 0)
      violated(std::string(what) + " does not name the file: " + line);
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

void check_loaded(const gateway::gateway_config& cfg) {
  const auto& c = cfg.proto;
  if (c.gateway_id().empty() || c.gateway_id().size() > 64) violated("gateway_id");
  if (c.policy_dir().empty() || c.state_dir().empty()) violated("policy_dir/state_dir default");
  if (c.local().client_id().empty() || c.upstream().client_id().empty())
    violated("client_id default");
  if (has_user_info(c.local().uri()) || has_user_info(c.upstream().uri()))
    violated("user info in a URI");
  if (c.upstream().uri().rfind("ssl://", 0) != 0 && c.upstream().uri().rfind("mqtts://", 0) != 0)
    violated("upstream without TLS");
  in_range("local.qos", c.local().qos(), 1, 2);
  in_range("local.keepalive_seconds", c.local().keepalive_seconds(), 5, 3600);
  in_range("upstream.keepalive_seconds", c.upstream().keepalive_seconds(), 5, 3600);
  in_range("upstream.max_inflight", c.upstream().max_inflight(), 1, 1000);
  in_range("spool.max_bytes", c.spool().max_bytes(), 64ull << 10, 64ull << 30);
  in_range("spool.batch_ms", c.spool().batch_ms(), 1, 1000);
  in_range("status.interval_seconds", c.status().interval_seconds(), 1, 3600);
  in_range("limits.max_payload_bytes", c.limits().max_payload_bytes(), 64,
           gateway::kMaxPayloadLimit);
  in_range("limits.max_depth", c.limits().max_depth(), 1, 32);
  in_range("reconnect.initial_ms", c.reconnect().initial_ms(), 10, 60000);
  in_range("reconnect.max_ms", c.reconnect().max_ms(), c.reconnect().initial_ms(), 3'600'000);
  in_range("ledger.max_bytes", c.ledger().max_bytes(), 1ull << 20, 1ull << 30);
  in_range("updates.max_bundle_bytes", c.updates().max_bundle_bytes(), 64u << 10, 16u << 20);
  in_range("drain_timeout_ms", c.drain_timeout_ms(), 1, 300000);
  if (c.control().socket().empty() || c.control().group().empty()) violated("control defaults");
  for (const auto* ids : {&c.grant(), &c.refuse()}) {
    for (const auto& id : *ids) {
      if (id.empty() || id.size() > 32)
        violated("a preset purpose that is no purpose id was loaded");
    }
  }
  const gateway::startup_report report = gateway::check_startup(cfg, **fixed_policy);
  for (const auto& e : report.errors) every_line_names_the_file(e, "a start-up error");
  for (const auto& w : report.warnings) every_line_names_the_file(w, "a start-up warning");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  struct stat st {};
  std::string dir = ::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
  dir += "/portier-fuzz-config-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) violated("mkdtemp");
  config_path = new std::string(dir + "/portierd.conf");
  static const std::string cleanup = dir;
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(cleanup, ignored);
  });
  std::vector<policies::policy_source> src;
  auto parsed = policies::parse_policy_source("p.textproto", R"(name: "home" version: 1
purpose { id: "analytics" title: "A" legal_basis: CONSENT retention_seconds: 60 }
purpose { id: "service" title: "S" legal_basis: CONTRACT retention_seconds: 60 }
device_class { id: "plug" topic: "plug/{device}" field { path: "power" rule { purpose: "analytics" keep {} } } })");
  if (!parsed) violated(parsed.error_message());
  src.push_back(std::move(*parsed));
  auto compiled = policies::compile_policy(src);
  if (!compiled.policy) violated("the fixed policy does not compile");
  fixed_policy = new std::shared_ptr<const policies::compiled_policy>(compiled.policy);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(*config_path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto loaded = gateway::load_gateway_config(*config_path);
  if (!loaded) {
    const std::string e = loaded.error_message();
    if (e.empty()) violated("an empty error");
    if (e.rfind(*config_path, 0) != 0) violated("the error does not name the file: " + e);
    return 0;
  }
  check_loaded(*loaded);
  return 0;
}
