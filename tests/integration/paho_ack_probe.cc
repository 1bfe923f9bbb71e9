// paho-ack-probe: checks, against a real broker, the Paho C fact portierd's "nothing lost"
// guarantee rests on — that a QoS 1 message is acknowledged (PUBACK) only after the message
// callback returned (docs/ARCHITECTURE.md, "Across a crash").
//
// Connects to --uri as client id --id with the same client library and settings portierd's
// ingress uses (Paho C++ async client, MQTT 3.1.1, clean session off, portierd's session store
// for persistence), subscribes to --topic at --qos, then creates --ready-file. In the callback
// of the first message it creates --ready-file.in-callback and then blocks while --hold-file
// exists (at most 30 s). (It cannot signal on the wire instead: with Paho C 1.3.12, nothing
// published from inside the callback reaches the broker before the callback returns.) The test
// reads the broker's log while the callback is held. Exits 0 after the hold is released and the
// callback returned (staying connected until the test removes --ready-file), 1 if no message
// came, 2 on set-up errors.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include <mqtt/async_client.h>

#include "gateway/session_store.h"
#include "platform/key_directory.h"

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string uri, id = "ack-probe", topic = "probe/#", ready, hold, state;
  int qos = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--uri")
      uri = v;
    else if (a == "--id")
      id = v;
    else if (a == "--topic")
      topic = v;
    else if (a == "--qos")
      qos = std::stoi(v);
    else if (a == "--ready-file")
      ready = v;
    else if (a == "--hold-file")
      hold = v;
    else if (a == "--state-dir")
      state = v;
    else {
      std::fprintf(stderr, "paho-ack-probe: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (uri.empty() || ready.empty() || hold.empty() || state.empty()) {
    std::fprintf(stderr,
                 "usage: paho-ack-probe --uri URI --ready-file F --hold-file F --state-dir D "
                 "[--id ID] [--topic T] [--qos Q]\n");
    return 2;
  }
  try {
    ::mkdir(state.c_str(), 0700);
    auto keys = portier::platform::key_directory::open(state + "/keys");
    if (!keys) throw std::runtime_error(keys.error_message());
    portier::gateway::session_store store(state + "/mqtt-local", **keys);
    mqtt::async_client client(uri, id, &store);
    std::atomic<bool> done{false};
    client.set_message_callback([&](mqtt::const_message_ptr) {
      if (done) return;
      std::ofstream(ready + ".in-callback") << "in callback\n";
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (exists(hold) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      done = true;
    });
    auto opts = mqtt::connect_options_builder()
                    .mqtt_version(MQTTVERSION_3_1_1)
                    .clean_session(false)
                    .keep_alive_interval(std::chrono::seconds(30))
                    .finalize();
    if (!client.connect(opts)->wait_for(std::chrono::seconds(10)))
      throw std::runtime_error("no CONNACK");
    if (!client.subscribe(topic, qos)->wait_for(std::chrono::seconds(10)))
      throw std::runtime_error("no SUBACK");
    std::ofstream(ready) << "ready\n";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // Stay connected until the test has seen the acknowledgement (it removes --ready-file).
    const auto linger = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (exists(ready) && std::chrono::steady_clock::now() < linger) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    client.disconnect()->wait_for(std::chrono::seconds(5));
    return done ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "paho-ack-probe: %s\n", e.what());
    return 2;
  }
}
