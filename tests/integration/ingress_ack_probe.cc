// ingress-ack-probe: checks, against a real broker, the fact portierd's "nothing lost" guarantee
// rests on: its ingress client (gateway/mqtt/mqtt_subscriber.h) acknowledges a message (PUBACK at
// QoS 1, PUBREC at QoS 2) only after the handler returned, that is after the message's releases
// are in the spool (docs/ARCHITECTURE.md, "Across a crash").
//
// Connects to --uri as client id --id with the ingress's client and its settings (MQTT 3.1.1,
// clean session off), subscribes to --topic at --qos, then creates --ready-file. In the handler
// of the first message it creates --ready-file.in-callback and then blocks while --hold-file
// exists (at most 30 s). The test reads the broker's log while the handler is held. Exits 0
// after the hold is released and the handler returned (staying connected until the test removes
// --ready-file), 1 if no message came, 2 on set-up errors.
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "gateway/mqtt/mqtt_subscriber.h"

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  using portier::gateway::mqtt_subscriber;
  std::string uri, id = "ack-probe", topic = "probe/#", ready, hold;
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
    else {
      std::fprintf(stderr, "ingress-ack-probe: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (uri.empty() || ready.empty() || hold.empty()) {
    std::fprintf(stderr,
                 "usage: ingress-ack-probe --uri URI --ready-file F --hold-file F [--id ID] "
                 "[--topic T] [--qos Q]\n");
    return 2;
  }
  mqtt_subscriber::settings s;
  s.uri = uri;
  s.client_id = id;
  s.qos = qos;
  mqtt_subscriber client(s);
  std::atomic<bool> done{false};
  client.on_message([&](std::string_view, std::string_view, int) {
    if (!done) {
      std::ofstream(ready + ".in-callback") << "in callback\n";
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (exists(hold) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      done = true;
    }
    return mqtt_subscriber::verdict::taken;
  });
  client.set_filters({topic});
  client.start();
  if (!client.wait_connected(std::chrono::steady_clock::now() + std::chrono::seconds(10))) {
    std::fprintf(stderr, "ingress-ack-probe: not connected and subscribed within 10 s\n");
    return 2;
  }
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
  client.stop();
  return done ? 0 : 1;
}
