#include "gateway/daemon.h"

#include <signal.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "gateway/consent_store.h"
#include "gateway/control_server.h"
#include "gateway/counters.h"
#include "gateway/device_registry.h"
#include "gateway/gateway_config.h"
#include "gateway/household_service.h"
#include "gateway/ledger.h"
#include "gateway/local_ingress.h"
#include "gateway/pipeline.h"
#include "gateway/policy_updates.h"
#include "gateway/spool.h"
#include "gateway/startup_checks.h"
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

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The policy in force: the last accepted remote bundle if there is one (state_dir/policy-bundle),
// else the configured policy_dir. Null (errors reported) if it does not compile.
std::shared_ptr<const policies::compiled_policy> load_policy(const gateway_config& cfg,
                                                             std::vector<std::string>& errors,
                                                             std::string* source = nullptr) {
  std::string dir = policy_updates::bundle_dir(cfg.proto.state_dir());
  std::error_code ec;
  if (cfg.proto.updates().root_key_file().empty() || !std::filesystem::is_directory(dir, ec)) {
    dir = cfg.proto.policy_dir();
  }
  if (source) *source = dir;
  auto sources = policies::load_policy_dir(dir);
  if (!sources) {
    errors.push_back(sources.error_message());
    return nullptr;
  }
  auto compiled = policies::compile_policy(*sources);
  errors = std::move(compiled.errors);
  return compiled.policy;
}

policies::engine_limits limits_from(const gateway_config& cfg) {
  policies::engine_limits l;
  l.max_payload_bytes = cfg.proto.limits().max_payload_bytes();
  l.max_depth = cfg.proto.limits().max_depth();
  return l;
}

platform::log_level level_from(const gateway_config& cfg) {
  switch (cfg.proto.logging().level()) {
    case config::Logging::DEBUG:
      return platform::log_level::debug;
    case config::Logging::WARNING:
      return platform::log_level::warning;
    case config::Logging::ERROR:
      return platform::log_level::error;
    default:
      return platform::log_level::info;
  }
}

bool same_connections(const gateway_config& a, const gateway_config& b) {
  return a.proto.gateway_id() == b.proto.gateway_id() &&
         a.proto.state_dir() == b.proto.state_dir() &&
         a.proto.local().SerializeAsString() == b.proto.local().SerializeAsString() &&
         a.proto.upstream().SerializeAsString() == b.proto.upstream().SerializeAsString() &&
         a.proto.spool().SerializeAsString() == b.proto.spool().SerializeAsString() &&
         a.proto.control().SerializeAsString() == b.proto.control().SerializeAsString() &&
         a.proto.ledger().SerializeAsString() == b.proto.ledger().SerializeAsString() &&
         a.proto.updates().SerializeAsString() == b.proto.updates().SerializeAsString() &&
         a.password_local == b.password_local && a.password_upstream == b.password_upstream;
}

// Remote updates arrive on Paho's thread; they are handled on a worker of their own, newest kept
// when several wait (a bounded mailbox: an update is a whole policy, older ones are superseded).
class update_mailbox {
 public:
  void post(std::string topic, std::string payload) {
    std::lock_guard lock(mu_);
    if (items_.size() >= 8) items_.pop_front();
    items_.emplace_back(std::move(topic), std::move(payload));
    cv_.notify_all();
  }
  std::optional<std::pair<std::string, std::string>> take(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; }) ||
        items_.empty()) {
      return std::nullopt;
    }
    auto item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> items_;
  bool closed_ = false;
};

// Logs what check_startup() finds; false if the start must not go on.
bool passes_startup_checks(const gateway_config& cfg, const policies::compiled_policy& policy) {
  const startup_report checked = check_startup(cfg, policy);
  for (const auto& w : checked.warnings) log_warning(w);
  for (const auto& e : checked.errors) log_error(e);
  if (checked.errors.empty()) return true;
  log_error("cannot start: ", checked.errors.size(),
            checked.errors.size() == 1 ? " problem" : " problems", " in the configuration (",
            cfg.path, "); nothing was changed");
  return false;
}

}  // namespace

int check_config(const std::string& config_path) {
  auto cfg = load_gateway_config(config_path);
  if (!cfg) {
    std::cerr << cfg.error_message() << "\n";
    return 1;
  }
  std::vector<std::string> errors;
  std::string source;
  auto policy = load_policy(*cfg, errors, &source);
  for (const auto& e : errors) std::cerr << e << "\n";
  if (!policy) return 1;
  const startup_report checked = check_startup(*cfg, *policy);
  for (const auto& w : checked.warnings) std::cerr << "warning: " << w << "\n";
  for (const auto& e : checked.errors) std::cerr << e << "\n";
  if (!checked.errors.empty()) return 1;
  std::cout << config_path << ": ok; policy \"" << policy->name() << "\" version "
            << policy->version() << " from " << source << ": " << policy->purposes().size()
            << " purposes, " << policy->classes().size() << " device classes, "
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
  const std::string& state = cfg.proto.state_dir();

  std::vector<std::string> errors;
  std::string policy_source;
  auto policy = load_policy(cfg, errors, &policy_source);
  for (const auto& e : errors) log_error("policy: ", e);
  if (!policy) {
    log_error("cannot start: no valid policy in ", policy_source,
              " (nothing would be allowed to leave)");
    return 1;
  }
  if (!passes_startup_checks(cfg, *policy)) return 1;
  std::error_code ec;
  std::filesystem::create_directories(state, ec);
  if (ec) {
    log_error("cannot start: state directory ", state, ": ", ec.message());
    return 1;
  }
  std::filesystem::permissions(state, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  auto secret = platform::load_or_create_secret(state + "/secret.key");
  if (!secret) {
    log_error("cannot start: ", secret.error_message());
    return 1;
  }
  const policies::engine_identity identity{cfg.proto.gateway_id(), *secret};

  counters stats;
  auto keys = platform::key_directory::open(state + "/keys");
  if (!keys) {
    log_error("cannot start: ", keys.error_message());
    return 1;
  }
  // The household's consent: refuses to start without it rather than run on defaults.
  auto consent = consent_store::open({state + "/consent.pb"});
  if (!consent) {
    log_error("cannot start: ", consent.error_message());
    return 1;
  }
  ledger_options lo;
  lo.dir = state + "/ledger";
  lo.max_bytes = cfg.proto.ledger().max_bytes();
  lo.segment_bytes =
      std::max<std::uint64_t>(4096, std::min<std::uint64_t>(1ull << 20, lo.max_bytes / 8));
  lo.max_devices = cfg.proto.devices().max_devices();
  lo.evicted_counter = &stats.ledger_keys_evicted;
  auto record = ledger::open(lo, **keys, *secret);
  if (!record) {
    log_error("cannot start: ", record.error_message());
    return 1;
  }

  spool_options so;
  so.dir = state + "/spool";
  so.max_bytes = cfg.proto.spool().max_bytes();
  so.drop_oldest = cfg.proto.spool().when_full() == config::Spool::DROP_OLDEST;
  so.sync = cfg.proto.spool().durability() == config::Spool::FSYNC_EACH
                ? spool_options::durability::each
            : cfg.proto.spool().durability() == config::Spool::NO_FSYNC
                ? spool_options::durability::none
                : spool_options::durability::batch;
  so.batch_interval = std::chrono::milliseconds(cfg.proto.spool().batch_ms());
  const auto spool_opened = std::chrono::steady_clock::now();
  auto opened = spool::open(so, **keys, *secret, stats);
  if (!opened) {
    log_error("cannot start: ", opened.error_message());
    return 1;
  }
  std::unique_ptr<spool> store = std::move(*opened);
  log_info("spool: ", store->pending(), " releases waiting, ", store->bytes(),
           " bytes, recovered in ",
           std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 spool_opened)
               .count(),
           " ms");

  std::unique_ptr<policy_updates> updates;
  if (!cfg.proto.updates().root_key_file().empty()) {
    auto u =
        policy_updates::open(state, cfg.proto.updates().root_key_file(), cfg.proto.gateway_id(),
                             cfg.proto.updates().fleet(), cfg.proto.updates().max_bundle_bytes());
    if (!u) {
      log_error("cannot start: remote updates: ", u.error_message());
      return 1;
    }
    updates = std::move(*u);
  }

  device_registry_options dro;
  dro.max_devices = cfg.proto.devices().max_devices();
  dro.max_new_per_minute = cfg.proto.devices().max_new_per_minute();
  dro.evicted_counter = &stats.devices_evicted;
  device_registry devices(dro);
  pipeline pipe(stats);
  pipe.set_admission([&devices](std::string_view id, std::string_view cls, std::int64_t now) {
    return devices.admit(id, cls, now);
  });
  try {
    pipe.install(std::make_shared<policies::evaluator>(policy, identity, limits_from(cfg)),
                 (*consent)->snapshot());
  } catch (const std::exception& e) {
    log_error("cannot start: ", e.what());
    return 1;
  }
  const auto started = std::chrono::steady_clock::now();
  std::mutex update_report_mu;
  std::string update_report;  // the last remote update's outcome, as a JSON object
  update_mailbox mailbox;
  std::unique_ptr<upstream_egress> up;
  std::unique_ptr<local_ingress> in;
  try {
    up = std::make_unique<upstream_egress>(cfg, *store, stats, [&] {
      std::lock_guard lock(update_report_mu);
      return online_status(cfg.proto.gateway_id(), started, stats, pipe, *store,
                           (*consent)->paused(), update_report);
    });
    up->set_hold([&] { return (*consent)->paused(); });
    if (updates) {
      up->set_updates(updates->topics(), [&](std::string topic, std::string payload) {
        mailbox.post(std::move(topic), std::move(payload));
      });
    }
    in = std::make_unique<local_ingress>(cfg, pipe, *store, stats, devices, record->get());
    in->set_sender([&up] { up->pump(); });
  } catch (const mqtt::exception& e) {
    log_error("cannot start: ", e.what());
    return 1;
  }

  household_context hc;
  hc.config = &cfg;
  hc.stats = &stats;
  hc.pipe = &pipe;
  hc.store = store.get();
  hc.consent = consent->get();
  hc.record = record->get();
  hc.devices = &devices;
  hc.identity = identity;
  hc.started = started;
  hc.local_connected = [&] { return in->connected(); };
  hc.upstream_connected = [&] { return up->connected(); };
  hc.publish = [&](const std::string& topic, const std::string& payload) {
    return up->publish_and_wait(topic, payload, std::chrono::seconds(10));
  };
  household_service service(std::move(hc));
  std::unique_ptr<control_server> control;
  if (!cfg.proto.control().disabled()) {
    control_server_options co;
    co.path = cfg.proto.control().socket();
    co.group = cfg.proto.control().group() == "root" ? "" : cfg.proto.control().group();
    auto started_control = control_server::start(co, service, [&](control_event e) {
      switch (e) {
        case control_event::served:
          ++stats.control_served;
          break;
        case control_event::refused:
          ++stats.control_refused;
          break;
        case control_event::invalid:
          ++stats.control_invalid;
          break;
        case control_event::timed_out:
        case control_event::failed:
          ++stats.control_failed;
          break;
        case control_event::busy:
          ++stats.control_busy;
          break;
      }
    });
    if (!started_control) {
      log_error("cannot start: control socket: ", started_control.error_message());
      return 1;
    }
    control = std::move(*started_control);
  }

  // Every other start-up step has succeeded: only now is the one-time preset used up.
  const auto shown = [&](std::string_view purpose) {
    consent_shown s;
    s.policy_name = policy->name();
    s.policy_version = policy->version();
    if (const int i = policy->purpose_index(purpose); i >= 0) {
      s.purpose_title = policy->purposes()[static_cast<std::size_t>(i)].title;
      s.purpose_description = policy->purposes()[static_cast<std::size_t>(i)].description;
    }
    return s;
  };
  const std::vector<std::string> grants(cfg.proto.grant().begin(), cfg.proto.grant().end());
  const std::vector<std::string> refusals(cfg.proto.refuse().begin(), cfg.proto.refuse().end());
  auto seeded = (*consent)->seed(grants, refusals, shown, wall_ms());
  if (!seeded) {
    log_error("cannot start: consent preset in the configuration: ", seeded.error_message());
    return 1;
  }
  if (!seeded->empty())
    log_info("consent: first start, ", seeded->size(), " decisions preset by the configuration");
  if (cfg.proto.paused() && !(*consent)->paused())
    (void)(*consent)->pause("config", shown(""), wall_ms());
  for (const auto& r : *seeded) (*record)->record_consent(r);
  pipe.set_consent((*consent)->snapshot());

  // Applies a new policy: swap, subscriptions, and what a bundle must not do (widen consent)
  // or asks for (suspend a purpose).
  auto apply_policy = [&](std::shared_ptr<const policies::compiled_policy> next,
                          const gateway_config& c, std::string_view source) {
    auto running = pipe.policy();
    for (const auto& purpose : policies::widened_defaults(*running, *next)) {
      // The household never decided, and the old policy kept it refused: keep it so.
      bool decided = false;
      for (const auto& d : (*consent)->decisions()) {
        decided = decided || (d.purpose == purpose && d.scope == consent_scope::household);
      }
      if (!decided) {
        consent_shown s;
        s.policy_name = next->name();
        s.policy_version = next->version();
        (void)(*consent)->decide(consent_scope::household, "", purpose, consent_choice::refuse,
                                 "policy-update", s, wall_ms());
        log_warning("policy update would grant purpose ", purpose,
                    " without consent: kept refused");
      }
    }
    pipe.install(std::make_shared<policies::evaluator>(next, identity, limits_from(c)),
                 (*consent)->snapshot());
    for (const auto& p : next->purposes()) {
      if (p.suspended) store->purge(p.id, spool::scope::household, "");
    }
    in->resubscribe();
    (*record)->record_policy(next->name(), next->version(), source, true, "", wall_ms());
  };

  std::thread update_worker;
  if (updates) {
    update_worker = std::thread([&] {
      while (!mailbox.closed()) {
        auto item = mailbox.take(std::chrono::milliseconds(500));
        if (!item) continue;
        const auto& [topic, payload] = *item;
        if (payload.empty()) continue;  // a cleared retained message
        const std::int64_t now_s = wall_ms() / 1000;
        update_outcome out = updates->handle(topic, payload, *pipe.policy(), now_s);
        if (out.accepted && out.policy) {
          apply_policy(out.policy, cfg, "bundle " + std::to_string(out.number));
          if (auto c = updates->committed(out); !c) log_error("remote update: ", c.error_message());
          ++stats.updates_applied;
          log_info("remote update: bundle ", out.number, " applied: policy \"", out.policy->name(),
                   "\" version ", out.policy->version(),
                   out.note.empty() ? "" : " (" + out.note + ")");
        } else if (out.accepted) {
          log_info("remote update: key list version ", out.number, " accepted");
        } else if (out.already_in_force) {
          platform::log_debug("remote update: ", topic, " already in force");
          continue;
        } else {
          ++stats.updates_rejected;
          log_warning("remote update rejected: ", out.reason, ": ", out.detail);
          for (const auto& e : out.errors) log_warning("remote update: ", e);
          if (out.what == update_outcome::kind::bundle) {
            (*record)->record_policy("", out.number, "bundle " + std::to_string(out.number), false,
                                     out.reason, wall_ms());
          }
        }
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        w.StartObject();
        w.Key("kind");
        w.String(out.what == update_outcome::kind::bundle ? "bundle" : "key_list");
        w.Key(out.what == update_outcome::kind::bundle ? "sequence" : "version");
        w.Uint64(out.number);
        w.Key("outcome");
        w.String(out.accepted ? "applied" : "rejected");
        if (!out.accepted) {
          w.Key("reason");
          w.String(out.reason.c_str());
          w.Key("detail");
          w.String(out.detail.c_str());
        }
        w.Key("applied_sequence");
        w.Uint64(updates->applied_sequence());
        w.Key("at_ms");
        w.Int64(wall_ms());
        w.EndObject();
        {
          std::lock_guard lock(update_report_mu);
          update_report = buf.GetString();
        }
        up->publish_status();
      }
    });
  }

  up->start();
  in->start();
  log_info("started: gateway ", cfg.proto.gateway_id(), ", policy \"", policy->name(),
           "\" version ", policy->version(), " from ", policy_source, ", ",
           policy->subscriptions().size(), " subscriptions",
           control ? ", control socket " + cfg.proto.control().socket()
                   : std::string(", no control socket"));

  while (true) {
    const int sig = signals.wait(std::chrono::milliseconds(1000));
    (*record)->flush(wall_ms());
    if (sig == SIGHUP) {
      log_info("SIGHUP: reloading ", config_path);
      auto next = load_gateway_config(config_path);
      if (!next) {
        ++stats.reload_failures;
        log_error("reload rejected, the running configuration stays: ", next.error_message());
        continue;
      }
      std::vector<std::string> reload_errors;
      std::string source;
      auto next_policy = load_policy(*next, reload_errors, &source);
      for (const auto& e : reload_errors) log_error("policy: ", e);
      if (!next_policy) {
        ++stats.reload_failures;
        (*record)->record_policy("", 0, source, false, "invalid-policy", wall_ms());
        log_error("reload rejected, the running policy stays");
        continue;
      }
      if (!same_connections(cfg, *next)) {
        log_warning(
            "changes to gateway_id, state_dir, local, upstream, spool, control, ledger or updates "
            "take effect "
            "after a restart");
      }
      apply_policy(next_policy, *next, "reload of " + source);
      ++stats.reloads;
      log_info("reloaded: policy \"", next_policy->name(), "\" version ", next_policy->version());
      up->publish_status();
    } else if (sig == SIGTERM || sig == SIGINT) {
      break;
    }
  }

  log_info("stopping: taking no new messages, sending the ", store->pending(),
           " releases in the spool");
  mailbox.close();
  if (update_worker.joinable()) update_worker.join();
  if (control) control->stop();
  in->stop();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.proto.drain_timeout_ms());
  if (!up->drain(deadline)) {
    log_warning("drain deadline passed: ", store->pending(),
                " releases stay in the spool for the next start");
  }
  up->stop();
  store->close();
  (*record)->flush_all(wall_ms());
  log_info("stopped: ", stats.received.load(), " received, ", stats.released.load(), " released, ",
           stats.acknowledged.load(), " acknowledged upstream");
  return 0;
}

}  // namespace portier::gateway
