// Frames the byte stream from a broker into MQTT packets (mqtt_wire.h) with bounded memory.
//
// The owner reads from its socket straight into space() and commit()s what it got; drain() then
// hands every complete packet, in order, to a callback that may stop it (the packet it refused
// stays buffered, at the front). A packet split across reads waits for the rest; the buffer grows
// to hold one whole packet and no more than that.
//
// Bounded: a PUBLISH whose payload exceeds max_payload_bytes + 1 by more than its header can be
// long is not buffered whole. Its head (topic, packet id and the first max_payload_bytes + 1
// bytes of payload) is handed over as the packet, so a consumer that drops payloads over
// max_payload_bytes drops it as too large, and the rest of it is skipped as it arrives. Any other
// packet that long is malformed. After malformed the stream cannot be resynchronised: close the
// connection and reset().
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "gateway/mqtt/mqtt_wire.h"

namespace portier::gateway {

class mqtt_reader {
 public:
  static constexpr std::size_t kReadChunk = 64 * 1024;

  explicit mqtt_reader(std::size_t max_payload_bytes);

  // Room to read into (at least 1 byte; at least kReadChunk / 2 unless a packet is waiting). Called
  // with the buffer full, after drain() stopped, it grows the buffer by kReadChunk / 2.
  std::span<char> space();
  // `n` bytes were written at the start of space().
  void commit(std::size_t n) { end_ += n; }

  enum class status { drained, stopped, malformed };
  // Hands each complete packet to `take` (bool(const mqtt_wire::packet&)); stops at the first one
  // `take` returns false for, which stays buffered. A packet's body is valid until the next call
  // of space() or drain().
  template <typename Take>
  status drain(Take&& take);
  // The reason for the last `malformed`.
  const char* error() const { return error_; }
  // Forgets everything buffered (a new connection) and gives back memory beyond kReadChunk.
  void reset();
  std::size_t buffered() const { return end_ - start_; }

 private:
  enum class step { packet, more, skipped, malformed };
  // Frames the next packet (or skips); `out` set on `packet`, `size` what it takes from the buffer.
  step next(mqtt_wire::packet& out, std::size_t& size);

  const std::size_t max_payload_bytes_;
  std::vector<char> buf_;
  std::size_t start_ = 0, end_ = 0;  // [start_, end_) read and not yet handed over
  std::size_t need_ = 0;             // bytes the packet at start_ needs buffered, once known
  std::size_t skip_ = 0;             // payload bytes of an oversized PUBLISH still to discard
  std::size_t skip_after_ = 0;       // set by next() for the packet it returns
  const char* error_ = "";
};

template <typename Take>
mqtt_reader::status mqtt_reader::drain(Take&& take) {
  while (true) {
    mqtt_wire::packet p;
    std::size_t size = 0;
    switch (next(p, size)) {
      case step::more:
        return status::drained;
      case step::malformed:
        return status::malformed;
      case step::skipped:
        continue;
      case step::packet:
        if (!take(static_cast<const mqtt_wire::packet&>(p))) return status::stopped;
        start_ += size;
        skip_ = skip_after_;
        continue;
    }
  }
}

}  // namespace portier::gateway
