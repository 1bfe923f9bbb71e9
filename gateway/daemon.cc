#include "gateway/daemon.h"

#include <signal.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "gateway/counters.h"
#include "gateway/device_registry.h"
#include "gateway/gateway_config.h"
#include "gateway/household/consent_store.h"
#include "gateway/household/control_server.h"
#include "gateway/household/home_assistant_link.h"
#include "gateway/household/household_service.h"
#include "gateway/household/serialized_service.h"
#include "gateway/main_chores.h"
#include "gateway/mqtt/local_ingress.h"
#include "gateway/mqtt/upstream_egress.h"
#include "gateway/pipeline.h"
#include "gateway/policy_installer.h"
#include "gateway/startup_checks.h"
#include "gateway/status_report.h"
#include "gateway/store/announcement_saver.h"
#include "gateway/store/announcement_store.h"
#include "gateway/store/ledger.h"
#include "gateway/store/spool.h"
#include "gateway/store/unmatched_shapes.h"
#include "gateway/store/window_releaser.h"
#include "gateway/store/window_store.h"
#include "gateway/updates/policy_updates.h"
#include "gateway/updates/update_worker.h"
#include "platform/key_directory.h"
#include "platform/key_store.h"
#include "platform/log.h"
#include "platform/memory.h"
#include "platform/signals.h"
#include "platform/wall_clock.h"
#include "policies/policy_compiler.h"

namespace portier::gateway {

using platform::wall_ms;

namespace {

using platform::log_error;
using platform::log_info;
using platform::log_warning;

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
         a.proto.devices().SerializeAsString() == b.proto.devices().SerializeAsString() &&
         a.proto.updates().SerializeAsString() == b.proto.updates().SerializeAsString() &&
         a.proto.unmatched().SerializeAsString() == b.proto.unmatched().SerializeAsString() &&
         a.proto.aggregation().SerializeAsString() == b.proto.aggregation().SerializeAsString() &&
         a.proto.has_home_assistant() == b.proto.has_home_assistant() &&
         a.proto.home_assistant().SerializeAsString() ==
             b.proto.home_assistant().SerializeAsString() &&
         a.password_local == b.password_local && a.password_upstream == b.password_upstream;
}

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

// ---- the parts' settings, from the configuration --------------------------------------------

ledger_options ledger_options_from(const gateway_config& cfg, counters& stats) {
  ledger_options lo;
  lo.dir = cfg.proto.state_dir() + "/ledger";
  lo.max_bytes = cfg.proto.ledger().max_bytes();
  lo.segment_bytes =
      std::max<std::uint64_t>(4096, std::min<std::uint64_t>(1ull << 20, lo.max_bytes / 8));
  lo.max_devices = cfg.proto.devices().max_devices();
  lo.evicted_counter = &stats.ledger_keys_evicted;
  lo.dropped_counter = &stats.ledger_minutes_dropped;
  lo.access_dropped_counter = &stats.ledger_access_dropped;
  return lo;
}

spool_options spool_options_from(const gateway_config& cfg) {
  spool_options so;
  so.dir = cfg.proto.state_dir() + "/spool";
  so.max_bytes = cfg.proto.spool().max_bytes();
  so.drop_oldest = cfg.proto.spool().when_full() == config::Spool::DROP_OLDEST;
  so.sync = cfg.proto.spool().durability() == config::Spool::FSYNC_EACH
                ? spool_options::durability::each
            : cfg.proto.spool().durability() == config::Spool::NO_FSYNC
                ? spool_options::durability::none
                : spool_options::durability::batch;
  so.batch_interval = std::chrono::milliseconds(cfg.proto.spool().batch_ms());
  return so;
}

window_store_options window_options_from(const gateway_config& cfg, const spool_options& so,
                                         ledger& record) {
  window_store_options o;
  o.dir = cfg.proto.state_dir();
  o.limits.max_windows = cfg.proto.aggregation().max_windows();
  o.limits.max_budgets = cfg.proto.aggregation().max_budgets();
  o.sync = so.sync;  // a sample is acknowledged as durable as a release would be
  o.batch_interval = so.batch_interval;
  o.record = &record;
  return o;
}

unmatched_shapes_options unmatched_options_from(const gateway_config& cfg, counters& stats) {
  unmatched_shapes_options o;
  o.path = cfg.proto.state_dir() + "/unmatched.pb";
  o.max_shapes = cfg.proto.unmatched().max_shapes();
  o.evicted_counter = &stats.unmatched_shapes_evicted;
  return o;
}

device_registry_options registry_options_from(const gateway_config& cfg, counters& stats) {
  device_registry_options o;
  o.max_devices = cfg.proto.devices().max_devices();
  o.max_new_per_minute = cfg.proto.devices().max_new_per_minute();
  o.evicted_counter = &stats.devices_evicted;
  return o;
}

control_server_options control_options_from(const gateway_config& cfg) {
  control_server_options co;
  co.path = cfg.proto.control().socket();
  co.group = cfg.proto.control().group() == "root" ? "" : cfg.proto.control().group();
  return co;
}

void count_control_event(counters& stats, control_event e) {
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
}

// What the household is shown of a purpose (for consent receipts).
consent_shown shown_of(const policies::compiled_policy& policy, std::string_view purpose) {
  consent_shown s;
  s.policy_name = policy.name();
  s.policy_version = policy.version();
  if (const int i = policy.purpose_index(purpose); i >= 0) {
    s.purpose_title = policy.purposes()[static_cast<std::size_t>(i)].title;
    s.purpose_description = policy.purposes()[static_cast<std::size_t>(i)].description;
  }
  return s;
}

// The one-time consent preset of the configuration (and its `paused`), recorded in the ledger and
// put in force. Called only once every other start-up step has succeeded, so that a start that
// fails does not use the preset up.
bool seed_consent(const gateway_config& cfg, const policies::compiled_policy& policy,
                  consent_store& consent, ledger& record, pipeline& pipe) {
  const auto shown = [&](std::string_view purpose) { return shown_of(policy, purpose); };
  const std::vector<std::string> grants(cfg.proto.grant().begin(), cfg.proto.grant().end());
  const std::vector<std::string> refusals(cfg.proto.refuse().begin(), cfg.proto.refuse().end());
  auto seeded = consent.seed(grants, refusals, shown, wall_ms());
  if (!seeded) {
    log_error("cannot start: consent preset in the configuration: ", seeded.error_message());
    return false;
  }
  if (!seeded->empty())
    log_info("consent: first start, ", seeded->size(), " decisions preset by the configuration");
  if (cfg.proto.paused() && !consent.paused()) (void)consent.pause("config", shown(""), wall_ms());
  for (const auto& r : *seeded) record.record_consent(r);
  pipe.set_consent(consent.snapshot());
  return true;
}

// SIGHUP: a new configuration and policy, or (any error) the running ones stay.
void reload(const std::string& config_path, const gateway_config& running, counters& stats,
            ledger& record, policy_installer& installer, upstream_egress& up) {
  log_info("SIGHUP: reloading ", config_path);
  auto next = load_gateway_config(config_path);
  if (!next) {
    ++stats.reload_failures;
    log_error("reload rejected, the running configuration stays: ", next.error_message());
    return;
  }
  std::vector<std::string> errors;
  std::string source;
  auto next_policy = load_policy(*next, errors, &source);
  for (const auto& e : errors) log_error("policy: ", e);
  if (!next_policy) {
    ++stats.reload_failures;
    record.record_policy("", 0, source, false, "invalid-policy", wall_ms());
    log_error("reload rejected, the running policy stays");
    return;
  }
  if (!same_connections(running, *next)) {
    log_warning(
        "changes to gateway_id, state_dir, local, upstream, spool, control, ledger, devices, "
        "updates, unmatched, aggregation or home_assistant take effect after a restart");
  }
  installer.install(next_policy, *next, "reload of " + source);
  ++stats.reloads;
  log_info("reloaded: policy \"", next_policy->name(), "\" version ", next_policy->version());
  up.publish_status();
}

// Home Assistant discovery, when configured (null otherwise); the ingress skips its topics.
std::unique_ptr<home_assistant_link> home_assistant_from(const gateway_config& cfg, counters& stats,
                                                         control_service& household,
                                                         const consent_store& consent,
                                                         local_ingress& in) {
  if (!cfg.proto.has_home_assistant()) return nullptr;
  auto link = std::make_unique<home_assistant_link>(cfg, stats, household, [&stats, &consent] {
    return home_assistant_state{stats.released.load(), stats.dropped.load(), consent.paused()};
  });
  in.set_own_topics([topics = link->topics()](std::string_view topic) {
    return is_home_assistant_topic(topics, topic);
  });
  return link;
}

// Prints `what` failed and says the start stops; for result-returning openers.
template <typename T>
bool opened(const platform::result<T>& r, std::string_view what = "") {
  if (r) return true;
  log_error("cannot start: ", what, r.error_message());
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
  if (!opened(loaded)) return 1;
  gateway_config cfg = std::move(*loaded);
  platform::log_init(level_from(cfg), cfg.proto.logging().syslog(), "portierd");
  const std::string& state = cfg.proto.state_dir();

  // 1. What can be checked without touching anything.
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

  // 2. State on disk: secret, keys, consent, ledger, spool, trust.
  std::error_code ec;
  std::filesystem::create_directories(state, ec);
  if (ec) {
    log_error("cannot start: state directory ", state, ": ", ec.message());
    return 1;
  }
  std::filesystem::permissions(state, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  auto secret = platform::load_or_create_secret(state + "/secret.key");
  if (!opened(secret)) return 1;
  const policies::engine_identity identity{cfg.proto.gateway_id(), *secret};
  counters stats;
  auto keys = platform::key_directory::open(state + "/keys");
  if (!opened(keys)) return 1;
  // The household's consent: refuses to start without it rather than run on defaults.
  auto consent = consent_store::open({state + "/consent.pb"});
  if (!opened(consent)) return 1;
  auto record = ledger::open(ledger_options_from(cfg, stats), **keys, *secret);
  if (!opened(record)) return 1;
  const auto spool_opened = std::chrono::steady_clock::now();
  auto store = spool::open(spool_options_from(cfg), **keys, *secret, stats);
  if (!opened(store)) return 1;
  log_info("spool: ", (*store)->pending(), " releases waiting, ", (*store)->bytes(),
           " bytes, recovered in ",
           std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 spool_opened)
               .count(),
           " ms");
  // Aggregation windows and privacy budgets, durable before the ingress takes a message.
  auto rng = system_random_source();
  if (!opened(rng)) return 1;
  auto windows = window_store::open(window_options_from(cfg, spool_options_from(cfg), **record),
                                    **keys, std::move(*rng), stats);
  if (!opened(windows)) return 1;
  log_info("windows: ", (*windows)->open_windows(), " aggregation windows open");
  std::string shapes_problem;
  auto shapes = unmatched_shapes::open(unmatched_options_from(cfg, stats), shapes_problem);
  if (!shapes_problem.empty())
    log_warning(shapes_problem, "; the shapes of unmatched messages start afresh");
  // What devices announced before a restart (a resumed session gets no retained messages).
  auto announced =
      announcement_store::open(state + "/announcements.pb", cfg.proto.devices().max_announcements(),
                               &stats.announcements_evicted);
  if (!opened(announced, "announcements: ")) return 1;
  if (!(*announced)->problem().empty()) log_warning((*announced)->problem());
  log_info("announcements: ", (*announced)->size(), " state topics known");
  // New work for the main loop's chores wakes it (before any thread that makes such work starts).
  const auto wake_main = [&signals] { signals.wake(); };
  (*record)->set_work_notifier(wake_main);
  shapes->set_work_notifier(wake_main);
  (*announced)->set_work_notifier(wake_main);
  (*windows)->set_work_notifier(wake_main);
  std::unique_ptr<policy_updates> updates;
  if (!cfg.proto.updates().root_key_file().empty()) {
    auto u =
        policy_updates::open(state, cfg.proto.updates().root_key_file(), cfg.proto.gateway_id(),
                             cfg.proto.updates().fleet(), cfg.proto.updates().max_bundle_bytes());
    if (!opened(u, "remote updates: ")) return 1;
    updates = std::move(*u);
  }

  // 3. The message path: registry (admission), pipeline, upstream, ingress.
  device_registry devices(registry_options_from(cfg, stats));
  pipeline pipe(stats);
  pipe.set_admission([&devices](std::string_view id, std::string_view cls, std::int64_t now) {
    return devices.admit(id, cls, now);
  });
  pipe.set_announcements(announced->get());
  announcement_saver announcements_saver(**announced);
  const auto started = std::chrono::steady_clock::now();
  std::unique_ptr<update_worker> worker;
  std::unique_ptr<upstream_egress> up;
  std::unique_ptr<local_ingress> in;
  try {
    pipe.install(std::make_shared<policies::evaluator>(policy, identity, limits_from(cfg)),
                 (*consent)->snapshot());
    up = std::make_unique<upstream_egress>(cfg, **store, stats, [&] {
      return online_status(cfg.proto.gateway_id(), started, stats, pipe, **store,
                           (*consent)->paused(), worker ? worker->report() : std::string(),
                           shapes->size(), (*windows)->open_windows());
    });
    up->set_hold([&] { return (*consent)->paused(); });
    in = std::make_unique<local_ingress>(cfg, pipe, **store, stats, devices, record->get());
    in->set_sender([&up] { up->pump(); });
    in->set_unmatched(shapes.get());
    in->set_windows(windows->get());
  } catch (const std::exception& e) {  // Paho's exceptions stop here
    log_error("cannot start: ", e.what());
    return 1;
  }
  policy_installer installer(pipe, **consent, **store, *in, **record, identity, windows->get());
  window_releaser releaser(**windows, pipe, **store);
  main_chores chores(**record, *shapes, announcements_saver, releaser, **windows);
  if (updates) {
    worker = std::make_unique<update_worker>(
        *updates, pipe, stats, **record,
        [&](std::shared_ptr<const policies::compiled_policy> next, const std::string& source) {
          installer.install(std::move(next), cfg, source);
        },
        [&] { up->publish_status(); });
    up->set_updates(updates->topics(), [&](std::string topic, std::string payload) {
      worker->post(std::move(topic), std::move(payload));
    });
  }

  // 4. The household's door.
  household_context hc;
  hc.config = &cfg;
  hc.stats = &stats;
  hc.pipe = &pipe;
  hc.store = store->get();
  hc.consent = consent->get();
  hc.record = record->get();
  hc.devices = &devices;
  hc.unmatched = shapes.get();
  hc.windows = windows->get();
  hc.announcements = announced->get();
  hc.identity = identity;
  hc.started = started;
  hc.local_connected = [&] { return in->connected(); };
  hc.upstream_connected = [&] { return up->connected(); };
  hc.publish = [&](const std::string& topic, const std::string& payload) {
    return up->publish_and_wait(topic, payload, std::chrono::seconds(10));
  };
  household_service household(std::move(hc));
  serialized_service service(household);  // the control server's thread and Home Assistant's
  std::unique_ptr<control_server> control;
  if (!cfg.proto.control().disabled()) {
    auto c = control_server::start(control_options_from(cfg), service,
                                   [&](control_event e) { count_control_event(stats, e); });
    if (!opened(c, "control socket: ")) return 1;
    control = std::move(*c);
  }
  std::unique_ptr<home_assistant_link> home_assistant;
  try {
    home_assistant = home_assistant_from(cfg, stats, service, **consent, *in);
  } catch (const std::exception& e) {  // Paho's exceptions stop here
    log_error("cannot start: home_assistant: ", e.what());
    return 1;
  }

  // 5. Every other start-up step has succeeded: only now is the one-time preset used up.
  if (!seed_consent(cfg, *policy, **consent, **record, pipe)) return 1;

  // 6. Run until SIGTERM.
  if (worker) worker->start();
  up->start();
  in->start();
  if (home_assistant) home_assistant->start();
  log_info("started: gateway ", cfg.proto.gateway_id(), ", policy \"", policy->name(),
           "\" version ", policy->version(), " from ", policy_source, ", ",
           policy->subscriptions().size(), " subscriptions",
           control ? ", control socket " + cfg.proto.control().socket()
                   : std::string(", no control socket"));
  // Parsing the configuration and the policy, and compiling it, freed more than it kept.
  platform::release_free_memory();
  while (true) {
    // Asleep until a chore is due, a store has new work, or a signal.
    const int sig = signals.wait(chores.wait(std::chrono::steady_clock::now(), wall_ms()));
    chores.run(std::chrono::steady_clock::now(), wall_ms());
    if (sig == SIGHUP) {
      reload(config_path, cfg, stats, **record, installer, *up);
      platform::release_free_memory();
    }
    if (sig == SIGTERM || sig == SIGINT) break;
  }

  // 7. Drain and stop.
  log_info("stopping: taking no new messages, sending the ", (*store)->pending(),
           " releases in the spool");
  if (home_assistant) home_assistant->stop();  // "offline" for Home Assistant
  if (worker) worker->stop();
  if (control) control->stop();
  in->stop();
  (*windows)->close();  // compacted: what is open waits for the next start
  announcements_saver.save();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.proto.drain_timeout_ms());
  if (!up->drain(deadline)) {
    log_warning("drain deadline passed: ", (*store)->pending(),
                " releases stay in the spool for the next start");
  }
  up->stop();
  (*store)->close();
  (*record)->flush_all(wall_ms());
  if (auto saved = shapes->save(); !saved) log_warning("unmatched shapes: ", saved.error_message());
  log_info("stopped: ", stats.received.load(), " received, ", stats.released.load(), " released, ",
           stats.acknowledged.load(), " acknowledged upstream");
  return 0;
}

}  // namespace portier::gateway
