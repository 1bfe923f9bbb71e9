// bench-loadgen: the load generator and measuring subscriber of tools/bench-e2e.
//
// Three modes. The default (measuring) mode: one process, two MQTT clients (Paho C++ async), one
// clock:
//   publisher   connects to --pub (the local broker) and publishes --count messages at QoS 1 to
//               --topic, at --rate messages per second (0: as fast as the broker acknowledges),
//               with at most --window published and not yet acknowledged (PUBACK) at a time.
//               Payload: {"seq":N,"sent_ns":T,"temperature":..,"humidity":..,"battery":..,...}
//               where T is std::chrono::steady_clock (CLOCK_MONOTONIC) in ns, read just before
//               the publish call.
//   subscriber  connects to --sub (the upstream broker's plain listener), subscribes to
//               --filter at QoS 1, and stamps every message on arrival with the same clock.
//               Messages without a "seq" (the gateway's status) are ignored; seq 0 is the
//               probe/warm-up traffic and is not measured.
//
// Before measuring, the path is probed (a seq-0 message every 100 ms until one arrives: brokers,
// bridge or gateway are up and subscribed) and warmed up with --warmup messages. Then --count
// messages are sent; the run ends when all arrived, when nothing arrived for --idle-s seconds
// after the last publish, or at --deadline-s, whichever is first. Everything is bounded.
//
// Reported: latency = arrival − sent_ns per message (percentiles), throughput = messages
// received / (last arrival − first send), lost = seqs that never arrived, dup = seqs that
// arrived more than once. Output: one line "RESULT key=value ..." and a human-readable table.
// Exit status: 0 when the run completed (even with losses), 2 on set-up errors.
//
// --pub-only: the publisher alone (e.g. to fill portierd's spool while its upstream is down).
// Connects only to --pub and publishes --count messages at QoS 1 to --topic, same payload, seq
// 1..count, at most --window not yet acknowledged, paced by --rate if given; no subscriber, no
// probe, no warm-up (--sub, --filter, --warmup, --idle-s, --probe-s and --label are ignored). Waits
// until every publish is acknowledged (PUBACK), bounded by --deadline-s. Output: one line "PUBONLY
// sent=N acked=N seconds=S" (S: first publish to last acknowledgement, or to giving up). Exit
// status: 0 when all --count were acknowledged, 1 when not by the deadline (or a publish failed), 2
// on set-up errors.
//
// --sub-only: the subscriber alone (e.g. to count what portierd delivers from its spool after a
// restart). Connects only to --sub (required) and subscribes to --filter at QoS 1 (clean session).
// Once the broker has acknowledged the subscription it prints "SUBONLY ready" (flushed) and, with
// --ready-file F, creates F, so that a caller can start the publishing side only then. Counts the
// distinct seqs 1..--count (messages without one, or outside that range, e.g. the status, are
// ignored) and the repeats of an already counted seq. Ends when all --count arrived, at
// --deadline-s, when no new seq arrived for --idle-s after the first one, or when the connection is
// lost (--pub, --topic, --rate, --window, --warmup, --probe-s and --label are ignored). Output: one
// line "SUBONLY received=N dup=D ignored=I first_ms=F last_ms=L" where F and L are the wall-clock
// (system_clock, Unix epoch) milliseconds at which the first and the last new seq arrived (0 if
// none). Exit status: 0 when all --count arrived, 1 when not, 2 on set-up errors.
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <mqtt/async_client.h>

namespace {

using clock_type = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
      .count();
}

struct options {
  std::string pub_uri = "tcp://127.0.0.1:1883";
  std::string sub_uri;
  std::string topic = "bench/dev1";
  std::string filter = "bench/#";
  std::string label = "run";
  std::uint64_t count = 20000;
  double rate = 0;  // messages per second; 0: as fast as possible
  std::size_t window = 100;
  std::uint64_t warmup = 200;
  double deadline_s = 120;
  double idle_s = 5;
  double probe_s = 30;
  bool pub_only = false;
  bool sub_only = false;
  std::string ready_file;  // --sub-only: created once the subscription is acknowledged
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(
      stderr,
      "bench-loadgen: %s\n"
      "usage: bench-loadgen --pub URI --sub URI [--topic T] [--filter F] [--count N] [--rate R]\n"
      "                     [--window W] [--warmup N] [--deadline-s S] [--idle-s S] [--probe-s S]\n"
      "                     [--label NAME]\n"
      "       bench-loadgen --pub-only --pub URI [--topic T] [--count N] [--rate R] [--window W]\n"
      "                     [--deadline-s S]\n"
      "       bench-loadgen --sub-only --sub URI [--filter F] [--count N] [--deadline-s S]\n"
      "                     [--idle-s S] [--ready-file PATH]\n",
      why);
  std::exit(2);
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--pub")
      o.pub_uri = value();
    else if (a == "--sub")
      o.sub_uri = value();
    else if (a == "--topic")
      o.topic = value();
    else if (a == "--filter")
      o.filter = value();
    else if (a == "--label")
      o.label = value();
    else if (a == "--count")
      o.count = std::stoull(value());
    else if (a == "--rate")
      o.rate = std::stod(value());
    else if (a == "--window")
      o.window = std::stoull(value());
    else if (a == "--warmup")
      o.warmup = std::stoull(value());
    else if (a == "--deadline-s")
      o.deadline_s = std::stod(value());
    else if (a == "--idle-s")
      o.idle_s = std::stod(value());
    else if (a == "--probe-s")
      o.probe_s = std::stod(value());
    else if (a == "--pub-only")
      o.pub_only = true;
    else if (a == "--sub-only")
      o.sub_only = true;
    else if (a == "--ready-file")
      o.ready_file = value();
    else
      usage(("unknown argument " + a).c_str());
  }
  if (o.pub_only && o.sub_only) usage("--pub-only and --sub-only exclude each other");
  if (o.sub_only && o.sub_uri.empty()) usage("--sub-only needs --sub");
  if (o.sub_uri.empty()) o.sub_uri = o.pub_uri;
  if (o.count == 0 || o.count > 10'000'000) usage("--count must be 1 to 10000000");
  if (o.window == 0 || o.window > 10000) usage("--window must be 1 to 10000");
  if (o.rate < 0) usage("--rate must be >= 0");
  return o;
}

// The value of the integer member `key` ("\"seq\":") in a flat JSON object; -1 if absent.
std::int64_t find_int(std::string_view s, std::string_view key) {
  const auto at = s.find(key);
  if (at == std::string_view::npos) return -1;
  std::size_t i = at + key.size();
  while (i < s.size() && (s[i] == ' ' || s[i] == ':')) ++i;
  if (i >= s.size() || s[i] < '0' || s[i] > '9') return -1;
  std::int64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
  return v;
}

// State shared between the main thread and Paho's callback thread.
struct measurement {
  explicit measurement(std::uint64_t n) : latency_ns(n + 1, -1) {}
  std::vector<std::int64_t> latency_ns;  // by seq; -1: not (yet) received
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> warm_received{0};
  std::atomic<std::uint64_t> foreign{0};  // messages without a usable seq (e.g. status)
  std::atomic<std::int64_t> last_arrival_ns{0};
};

class window_listener : public mqtt::iaction_listener {
 public:
  void on_success(const mqtt::token&) override {
    ++successes;
    release();
  }
  void on_failure(const mqtt::token&) override {
    ++failures;
    release();
  }
  void acquire(std::size_t window) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return inflight_ < window; });
    ++inflight_;
  }
  // acquire, but gives up (false) at the deadline
  bool acquire_until(std::size_t window, clock_type::time_point deadline) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return inflight_ < window; })) return false;
    ++inflight_;
    return true;
  }
  // returns the slot of a publish that was never started
  void give_back() { release(); }
  bool wait_idle(clock_type::time_point deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return inflight_ == 0; });
  }
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> successes{0};

 private:
  void release() {
    {
      std::lock_guard lock(mu_);
      --inflight_;
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t inflight_ = 0;
};

// A realistic climate-sensor reading (Zigbee2MQTT-like) carrying the measurement fields.
std::string make_payload(std::uint64_t seq, std::int64_t sent_ns) {
  const double t =
      21.0 + 1.5 * std::sin(static_cast<double>(seq) / 50.0) + static_cast<double>(seq % 7) * 0.013;
  const double h = 48.0 + 6.0 * std::cos(static_cast<double>(seq) / 80.0);
  const int battery = 97 - static_cast<int>((seq / 5000) % 20);
  char buf[320];
  const int n = std::snprintf(
      buf, sizeof buf,
      "{\"seq\":%llu,\"sent_ns\":%lld,\"temperature\":%.2f,\"humidity\":%.1f,"
      "\"battery\":%d,\"voltage\":%d,\"linkquality\":%d,\"device\":\"living-room-th01\","
      "\"last_seen\":\"2024-05-01T10:23:45+02:00\"}",
      static_cast<unsigned long long>(seq), static_cast<long long>(sent_ns), t, h, battery,
      2900 + static_cast<int>(seq % 100), 90 + static_cast<int>(seq % 60));
  return std::string(buf, static_cast<std::size_t>(n));
}

double percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return static_cast<double>(sorted[lo]) * (1 - frac) + static_cast<double>(sorted[hi]) * frac;
}

// Connects the measuring subscriber (clean session); throws when the broker is not there.
void connect_subscriber(mqtt::async_client& sub, const std::string& uri) {
  auto sub_opts = mqtt::connect_options_builder()
                      .clean_session(true)
                      .keep_alive_interval(std::chrono::seconds(30))
                      .finalize();
  sub.connect(sub_opts)->wait_for(std::chrono::seconds(10));
  if (!sub.is_connected()) throw std::runtime_error("cannot connect to " + uri);
}

// Connects the publisher (clean session, room for `window` unacknowledged publishes); throws
// when the broker is not there.
void connect_publisher(mqtt::async_client& pub, const std::string& uri, std::size_t window) {
  auto pub_opts = mqtt::connect_options_builder()
                      .clean_session(true)
                      .keep_alive_interval(std::chrono::seconds(30))
                      .max_inflight(static_cast<int>(window) + 16)
                      .finalize();
  pub.connect(pub_opts)->wait_for(std::chrono::seconds(10));
  if (!pub.is_connected()) throw std::runtime_error("cannot connect to " + uri);
}

// --pub-only: publish --count messages at QoS 1, wait for their acknowledgements, report.
int pub_only(const options& opt) {
  const auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                std::chrono::duration<double>(opt.deadline_s));
  window_listener window;  // outlives the client: Paho may call it until the client is gone
  // Paho refuses a publish beyond its buffer (default 100 commands): room for the whole window.
  mqtt::async_client pub(opt.pub_uri, "bench-pub-" + std::to_string(::getpid()),
                         static_cast<int>(opt.window) + 16, nullptr);
  try {
    connect_publisher(pub, opt.pub_uri, opt.window);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-loadgen: %s\n", e.what());
    return 2;
  }

  const std::int64_t first_send = now_ns();
  const auto t0 = clock_type::now();
  const double period_ns = opt.rate > 0 ? 1e9 / opt.rate : 0;
  std::uint64_t sent_count = 0;
  for (std::uint64_t seq = 1; seq <= opt.count; ++seq) {
    if (period_ns > 0) {
      std::this_thread::sleep_until(t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(
                                             period_ns * static_cast<double>(seq - 1))));
    }
    if (!window.acquire_until(opt.window, deadline)) {
      std::fprintf(stderr, "bench-loadgen: deadline reached after %llu publishes\n",
                   static_cast<unsigned long long>(sent_count));
      break;
    }
    try {
      const std::int64_t sent = now_ns();
      pub.publish(mqtt::make_message(opt.topic, make_payload(seq, sent), 1, false), nullptr,
                  window);
      ++sent_count;
    } catch (const mqtt::exception& e) {
      window.give_back();  // Paho calls no listener for a publish it refused
      std::fprintf(stderr, "bench-loadgen: publish %llu failed: %s\n",
                   static_cast<unsigned long long>(seq), e.what());
      break;
    }
  }
  window.wait_idle(deadline);
  const std::int64_t done = now_ns();
  const std::uint64_t acked = window.successes.load();
  try {
    pub.disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const mqtt::exception&) {
  }
  if (window.failures.load() > 0) {
    std::fprintf(stderr, "bench-loadgen: %llu publishes failed\n",
                 static_cast<unsigned long long>(window.failures.load()));
  }
  std::printf("PUBONLY sent=%llu acked=%llu seconds=%.3f\n",
              static_cast<unsigned long long>(sent_count), static_cast<unsigned long long>(acked),
              static_cast<double>(done - first_send) / 1e9);
  std::fflush(stdout);
  return acked >= opt.count ? 0 : 1;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --sub-only: subscribe at QoS 1, count distinct seqs 1..count until all arrived (or the deadline,
// or --idle-s without a new one after the first), report.
int sub_only(const options& opt) {
  const auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                std::chrono::duration<double>(opt.deadline_s));
  // `seen` is touched by Paho's callback thread only; the main thread reads the atomics.
  std::vector<unsigned char> seen(opt.count + 1, 0);
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> ignored{0};
  std::atomic<std::int64_t> first_ms{0};
  std::atomic<std::int64_t> last_ms{0};
  std::atomic<bool> lost{false};

  mqtt::async_client sub(opt.sub_uri, "bench-sub-" + std::to_string(::getpid()), nullptr);
  sub.set_message_callback([&, n = opt.count](mqtt::const_message_ptr msg) {
    const auto& ref = msg->get_payload_ref();
    const std::int64_t seq = find_int(std::string_view(ref.data(), ref.size()), "\"seq\"");
    if (seq < 1 || static_cast<std::uint64_t>(seq) > n) {
      ++ignored;
      return;
    }
    auto& slot = seen[static_cast<std::size_t>(seq)];
    if (slot != 0) {
      ++duplicates;
      return;
    }
    slot = 1;
    const std::int64_t t = wall_ms();
    if (first_ms.load(std::memory_order_relaxed) == 0) first_ms.store(t);
    last_ms.store(t);
    received.fetch_add(1, std::memory_order_release);
  });
  sub.set_connection_lost_handler([&lost](const std::string&) { lost = true; });

  try {
    connect_subscriber(sub, opt.sub_uri);
    auto tok = sub.subscribe(opt.filter, 1);
    if (!tok->wait_for(std::chrono::seconds(10))) {
      throw std::runtime_error("no SUBACK for " + opt.filter);
    }
    const auto codes = tok->get_subscribe_response().get_reason_codes();
    if (codes.empty() || (codes[0] != mqtt::GRANTED_QOS_1 && codes[0] != mqtt::GRANTED_QOS_2)) {
      throw std::runtime_error("subscription to " + opt.filter + " not granted at QoS 1");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-loadgen: %s\n", e.what());
    return 2;
  }
  if (!opt.ready_file.empty()) {
    std::FILE* f = std::fopen(opt.ready_file.c_str(), "w");
    if (f == nullptr || std::fclose(f) != 0) {
      std::fprintf(stderr, "bench-loadgen: cannot create %s: %s\n", opt.ready_file.c_str(),
                   std::strerror(errno));
      return 2;
    }
  }
  std::printf("SUBONLY ready\n");
  std::fflush(stdout);

  {
    std::uint64_t last_count = 0;
    auto last_progress = clock_type::now();
    const auto idle = std::chrono::duration<double>(opt.idle_s);
    while (received.load(std::memory_order_acquire) < opt.count && !lost) {
      const auto now = clock_type::now();
      if (now >= deadline) {
        std::fprintf(stderr, "bench-loadgen: deadline reached\n");
        break;
      }
      const std::uint64_t r = received.load();
      if (r != last_count) {
        last_count = r;
        last_progress = now;
      } else if (r > 0 && now - last_progress > idle) {
        std::fprintf(stderr, "bench-loadgen: nothing new for %.1f s\n", opt.idle_s);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (lost) std::fprintf(stderr, "bench-loadgen: connection to %s lost\n", opt.sub_uri.c_str());
  try {
    sub.disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const mqtt::exception&) {
  }
  const std::uint64_t got = received.load();
  std::printf("SUBONLY received=%llu dup=%llu ignored=%llu first_ms=%lld last_ms=%lld\n",
              static_cast<unsigned long long>(got),
              static_cast<unsigned long long>(duplicates.load()),
              static_cast<unsigned long long>(ignored.load()),
              static_cast<long long>(first_ms.load()), static_cast<long long>(last_ms.load()));
  std::fflush(stdout);
  return got >= opt.count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse_args(argc, argv);
  if (opt.pub_only) return pub_only(opt);
  if (opt.sub_only) return sub_only(opt);
  const auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                std::chrono::duration<double>(opt.deadline_s));
  measurement m(opt.count);
  const std::string id_suffix = std::to_string(::getpid());

  mqtt::async_client sub(opt.sub_uri, "bench-sub-" + id_suffix, nullptr);
  mqtt::async_client pub(opt.pub_uri, "bench-pub-" + id_suffix, static_cast<int>(opt.window) + 16,
                         nullptr);
  sub.set_message_callback([&m, n = opt.count](mqtt::const_message_ptr msg) {
    const std::int64_t arrival = now_ns();
    const auto& ref = msg->get_payload_ref();
    const std::string_view p(ref.data(), ref.size());
    const std::int64_t seq = find_int(p, "\"seq\"");
    const std::int64_t sent = find_int(p, "\"sent_ns\"");
    if (seq < 0 || sent < 0 || static_cast<std::uint64_t>(seq) > n) {
      ++m.foreign;
      return;
    }
    if (seq == 0) {
      ++m.warm_received;
      return;
    }
    auto& slot = m.latency_ns[static_cast<std::size_t>(seq)];
    if (slot >= 0) {
      ++m.duplicates;
      return;
    }
    slot = arrival - sent;
    m.last_arrival_ns.store(arrival, std::memory_order_relaxed);
    m.received.fetch_add(1, std::memory_order_release);
  });

  window_listener window;
  try {
    connect_subscriber(sub, opt.sub_uri);
    sub.subscribe(opt.filter, 1)->wait_for(std::chrono::seconds(10));
    connect_publisher(pub, opt.pub_uri, opt.window);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-loadgen: %s\n", e.what());
    return 2;
  }

  auto send = [&](std::uint64_t seq) {
    window.acquire(opt.window);
    const std::int64_t sent = now_ns();
    auto msg = mqtt::make_message(opt.topic, make_payload(seq, sent), 1, false);
    pub.publish(msg, nullptr, window);
  };

  // Probe: until one seq-0 message makes it through (engine connected and subscribed).
  const auto probe_end = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                 std::chrono::duration<double>(opt.probe_s));
  while (m.warm_received == 0) {
    if (clock_type::now() > probe_end || clock_type::now() > deadline) {
      std::fprintf(stderr, "bench-loadgen: %s: nothing arrived on %s within %.0f s\n",
                   opt.label.c_str(), opt.filter.c_str(), opt.probe_s);
      return 2;
    }
    send(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Warm-up: connections, TLS, allocators, caches.
  const std::uint64_t warm_base = m.warm_received;
  for (std::uint64_t i = 0; i < opt.warmup; ++i) send(0);
  {
    const auto warm_end = clock_type::now() + std::chrono::seconds(10);
    while (m.warm_received < warm_base + opt.warmup && clock_type::now() < warm_end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let stragglers (probes) drain
  }

  // Measurement.
  const std::int64_t first_send = now_ns();
  const auto t0 = clock_type::now();
  const double period_ns = opt.rate > 0 ? 1e9 / opt.rate : 0;
  std::uint64_t sent_count = 0;
  for (std::uint64_t seq = 1; seq <= opt.count; ++seq) {
    if (period_ns > 0) {
      std::this_thread::sleep_until(t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(
                                             period_ns * static_cast<double>(seq - 1))));
    }
    if (clock_type::now() > deadline) break;
    try {
      send(seq);
      ++sent_count;
    } catch (const mqtt::exception& e) {
      std::fprintf(stderr, "bench-loadgen: publish %llu failed: %s\n",
                   static_cast<unsigned long long>(seq), e.what());
      break;
    }
  }
  const std::int64_t last_send = now_ns();
  window.wait_idle(deadline);
  const std::int64_t acked = now_ns();

  // Wait for the rest: all arrived, idle for idle_s, or the deadline.
  {
    std::uint64_t seen = m.received.load();
    auto last_progress = clock_type::now();
    while (m.received.load(std::memory_order_acquire) < sent_count &&
           clock_type::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      const auto r = m.received.load();
      if (r != seen) {
        seen = r;
        last_progress = clock_type::now();
      } else if (clock_type::now() - last_progress > std::chrono::duration<double>(opt.idle_s)) {
        break;
      }
    }
  }
  try {
    pub.disconnect()->wait_for(std::chrono::seconds(2));
    sub.disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const mqtt::exception&) {
  }
  // Paho's threads have stopped touching `m` (disconnected); read it.
  std::vector<std::int64_t> lat;
  lat.reserve(opt.count);
  for (std::uint64_t s = 1; s <= opt.count; ++s) {
    if (m.latency_ns[s] >= 0) lat.push_back(m.latency_ns[s]);
  }
  std::sort(lat.begin(), lat.end());
  const std::uint64_t received = lat.size();
  const std::uint64_t lost = opt.count - received;
  const double elapsed_s =
      received ? static_cast<double>(m.last_arrival_ns.load() - first_send) / 1e9 : 0;
  const double throughput = elapsed_s > 0 ? static_cast<double>(received) / elapsed_s : 0;
  const double pub_s = static_cast<double>(last_send - first_send) / 1e9;
  const double pub_rate = pub_s > 0 ? static_cast<double>(sent_count) / pub_s : 0;
  const double ack_s = static_cast<double>(acked - first_send) / 1e9;
  double mean = 0;
  for (auto v : lat) mean += static_cast<double>(v);
  if (!lat.empty()) mean /= static_cast<double>(lat.size());
  auto us = [](double ns) { return ns / 1000.0; };
  const double p50 = us(percentile(lat, 50)), p90 = us(percentile(lat, 90)),
               p99 = us(percentile(lat, 99)), p999 = us(percentile(lat, 99.9)),
               mx = lat.empty() ? 0 : us(static_cast<double>(lat.back())),
               mn = lat.empty() ? 0 : us(static_cast<double>(lat.front()));

  std::printf(
      "RESULT label=%s count=%llu sent=%llu received=%llu lost=%llu dup=%llu pub_failures=%llu "
      "rate=%.0f window=%zu "
      "elapsed_s=%.3f throughput=%.1f pub_rate=%.1f ack_s=%.3f min_us=%.1f p50_us=%.1f p90_us=%.1f "
      "p99_us=%.1f "
      "p999_us=%.1f max_us=%.1f mean_us=%.1f\n",
      opt.label.c_str(), static_cast<unsigned long long>(opt.count),
      static_cast<unsigned long long>(sent_count), static_cast<unsigned long long>(received),
      static_cast<unsigned long long>(lost), static_cast<unsigned long long>(m.duplicates.load()),
      static_cast<unsigned long long>(window.failures.load()), opt.rate, opt.window, elapsed_s,
      throughput, pub_rate, ack_s, mn, p50, p90, p99, p999, mx, mean / 1000.0);
  std::printf("  %-10s sent %llu at %.0f msg/s (%s), received %llu, lost %llu, duplicates %llu\n",
              opt.label.c_str(), static_cast<unsigned long long>(sent_count), pub_rate,
              opt.rate > 0 ? "paced" : "max", static_cast<unsigned long long>(received),
              static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(m.duplicates.load()));
  std::printf(
      "  %-10s throughput %.0f msg/s over %.3f s; latency us: min %.0f p50 %.0f p90 %.0f p99 %.0f "
      "p99.9 %.0f max %.0f\n",
      "", throughput, elapsed_s, mn, p50, p90, p99, p999, mx);
  std::fflush(stdout);
  return 0;
}
