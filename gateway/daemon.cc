#include "gateway/daemon.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "gateway/counters.h"
#include "gateway/gateway_config.h"
#include "gateway/local_ingress.h"
#include "gateway/pipeline.h"
#include "gateway/spool.h"
#include "gateway/status_report.h"
#include "gateway/upstream_egress.h"
#include "platform/key_directory.h"
#include "platform/key_store.h"
#include "platform/log.h"
#include "platform/signals.h"
#include "policies/policy_compiler.h"

namespace portier::gateway {

namespace {

using platform::log_error;
using platform::log_info;
using platform::log_warning;

// The policy named by the configuration, compiled; null (errors reported) if it does not compile.
std::shared_ptr<const policies::compiled_policy> load_policy(const gateway_config& cfg, std::vector<std::string>& errors) {
  auto sources = policies::load_policy_dir(cfg.proto.policy_dir());
  if (!sources) {
    errors.push_back(sources.error_message());
    return nullptr;
  }
  auto compiled = policies::compile_policy(*sources);
  errors = std::move(compiled.errors);
  return compiled.policy;
}

std::shared_ptr<const policies::consent_snapshot> consent_from(const gateway_config& cfg,
                                                               const policies::compiled_policy& policy) {
  auto c = std::make_shared<policies::consent_snapshot>();
  c->set_paused(cfg.proto.paused());
  auto decide = [&](const std::string& purpose, policies::consent_decision d) {
    if (policy.purpose_index(purpose) < 0) {
      log_warning("configuration names purpose \"", purpose, "\", which the policy does not define; ignored");
      return;
    }
    c->set_household(purpose, d);
  };
  for (const auto& p : cfg.proto.grant()) decide(p, policies::consent_decision::granted);
  for (const auto& p : cfg.proto.refuse()) decide(p, policies::consent_decision::refused);
  return c;
}

policies::engine_limits limits_from(const gateway_config& cfg) {
  policies::engine_limits l;
  l.max_payload_bytes = cfg.proto.limits().max_payload_bytes();
  l.max_depth = cfg.proto.limits().max_depth();
  return l;
}

platform::log_level level_from(const gateway_config& cfg) {
  switch (cfg.proto.logging().level()) {
    case config::Logging::DEBUG: return platform::log_level::debug;
    case config::Logging::WARNING: return platform::log_level::warning;
    case config::Logging::ERROR: return platform::log_level::error;
    default: return platform::log_level::info;
  }
}

bool same_connections(const gateway_config& a, const gateway_config& b) {
  return a.proto.gateway_id() == b.proto.gateway_id() && a.proto.state_dir() == b.proto.state_dir() &&
         a.proto.local().SerializeAsString() == b.proto.local().SerializeAsString() &&
         a.proto.upstream().SerializeAsString() == b.proto.upstream().SerializeAsString() &&
         a.proto.spool().SerializeAsString() == b.proto.spool().SerializeAsString() &&
         a.password_local == b.password_local && a.password_upstream == b.password_upstream;
}

}  // namespace

int check_config(const std::string& config_path) {
  auto cfg = load_gateway_config(config_path);
  if (!cfg) {
    std::cerr << cfg.error_message() << "\n";
    return 1;
  }
  std::vector<std::string> errors;
  auto policy = load_policy(*cfg, errors);
  for (const auto& e : errors) std::cerr << e << "\n";
  if (!policy) return 1;
  std::cout << config_path << ": ok; policy \"" << policy->name() << "\" version " << policy->version() << ": "
            << policy->purposes().size() << " purposes, " << policy->classes().size() << " device classes, "
            << policy->subscriptions().size() << " subscriptions\n";
  return 0;
}

int run_daemon(const std::string& config_path) {
  platform::signal_waiter signals;  // before any thread starts
  auto loaded = load_gateway_config(config_path);
  if (!loaded) {
    log_error("cannot start: ", loaded.error_message());
    return 1;
  }
  gateway_config cfg = std::move(*loaded);
  platform::log_init(level_from(cfg), cfg.proto.logging().syslog(), "portierd");

  std::error_code ec;
  std::filesystem::create_directories(cfg.proto.state_dir(), ec);
  if (ec) {
    log_error("cannot start: state directory ", cfg.proto.state_dir(), ": ", ec.message());
    return 1;
  }
  std::filesystem::permissions(cfg.proto.state_dir(), std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  auto secret = platform::load_or_create_secret(cfg.proto.state_dir() + "/secret.key");
  if (!secret) {
    log_error("cannot start: ", secret.error_message());
    return 1;
  }
  std::vector<std::string> errors;
  auto policy = load_policy(cfg, errors);
  for (const auto& e : errors) log_error("policy: ", e);
  if (!policy) {
    log_error("cannot start: no valid policy in ", cfg.proto.policy_dir(), " (nothing would be allowed to leave)");
    return 1;
  }
  const policies::engine_identity identity{cfg.proto.gateway_id(), *secret};

  counters stats;
  auto keys = platform::key_directory::open(cfg.proto.state_dir() + "/keys");
  if (!keys) {
    log_error("cannot start: ", keys.error_message());
    return 1;
  }
  spool_options so;
  so.dir = cfg.proto.state_dir() + "/spool";
  so.max_bytes = cfg.proto.spool().max_bytes();
  so.drop_oldest = cfg.proto.spool().when_full() == config::Spool::DROP_OLDEST;
  so.sync = cfg.proto.spool().durability() == config::Spool::FSYNC_EACH ? spool_options::durability::each
            : cfg.proto.spool().durability() == config::Spool::NO_FSYNC ? spool_options::durability::none
                                                                        : spool_options::durability::batch;
  so.batch_interval = std::chrono::milliseconds(cfg.proto.spool().batch_ms());
  const auto spool_opened = std::chrono::steady_clock::now();
  auto opened = spool::open(so, **keys, *secret, stats);
  if (!opened) {
    log_error("cannot start: ", opened.error_message());
    return 1;
  }
  std::unique_ptr<spool> store = std::move(*opened);
  log_info("spool: ", store->pending(), " releases waiting, ", store->bytes(), " bytes, recovered in ",
           std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - spool_opened).count(),
           " ms");
  pipeline pipe(stats);
  try {
    pipe.install(std::make_shared<policies::evaluator>(policy, identity, limits_from(cfg)), consent_from(cfg, *policy));
  } catch (const std::exception& e) {
    log_error("cannot start: ", e.what());
    return 1;
  }
  const auto started = std::chrono::steady_clock::now();
  std::unique_ptr<upstream_egress> up;
  std::unique_ptr<local_ingress> in;
  try {
    up = std::make_unique<upstream_egress>(cfg, *store, stats, [&] {
      return online_status(cfg.proto.gateway_id(), started, stats, pipe, *store);
    });
    in = std::make_unique<local_ingress>(cfg, pipe, *store, stats);
  } catch (const mqtt::exception& e) {
    log_error("cannot start: ", e.what());
    return 1;
  }
  up->start();
  in->start();
  log_info("started: gateway ", cfg.proto.gateway_id(), ", policy \"", policy->name(), "\" version ",
           policy->version(), ", ", policy->subscriptions().size(), " subscriptions");

  while (true) {
    const int sig = signals.wait(std::chrono::milliseconds(1000));
    if (sig == SIGHUP) {
      log_info("SIGHUP: reloading ", config_path);
      auto next = load_gateway_config(config_path);
      if (!next) {
        ++stats.reload_failures;
        log_error("reload rejected, the running configuration stays: ", next.error_message());
        continue;
      }
      std::vector<std::string> reload_errors;
      auto next_policy = load_policy(*next, reload_errors);
      for (const auto& e : reload_errors) log_error("policy: ", e);
      if (!next_policy) {
        ++stats.reload_failures;
        log_error("reload rejected, the running policy stays");
        continue;
      }
      if (!same_connections(cfg, *next)) {
        log_warning("changes to gateway_id, state_dir, local, upstream or queue take effect after a restart");
      }
      pipe.install(std::make_shared<policies::evaluator>(next_policy, identity, limits_from(*next)),
                   consent_from(*next, *next_policy));
      in->resubscribe();
      ++stats.reloads;
      log_info("reloaded: policy \"", next_policy->name(), "\" version ", next_policy->version());
      up->publish_status();
    } else if (sig == SIGTERM || sig == SIGINT) {
      break;
    }
  }

  log_info("stopping: taking no new messages, sending the ", store->pending(), " releases in the spool");
  in->stop();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.proto.drain_timeout_ms());
  if (!up->drain(deadline)) {
    log_warning("drain deadline passed: ", store->pending(), " releases stay in the spool for the next start");
  }
  up->stop();
  store->close();
  log_info("stopped: ", stats.received.load(), " received, ", stats.released.load(), " released, ",
           stats.acknowledged.load(), " acknowledged upstream");
  return 0;
}

}  // namespace portier::gateway
