#include "gateway/mqtt/mqtt_reader.h"

#include <algorithm>
#include <cstring>

namespace portier::gateway {

namespace wire = mqtt_wire;

namespace {
constexpr std::size_t kMaxPublishHeader = 2 + 65535 + 2;  // topic length, topic, packet id
}

mqtt_reader::mqtt_reader(std::size_t max_payload_bytes)
    : max_payload_bytes_(max_payload_bytes), buf_(kReadChunk) {}

std::span<char> mqtt_reader::space() {
  if (start_ == end_) start_ = end_ = 0;
  const std::size_t want = std::max(need_, kReadChunk / 2);
  if (start_ > 0 && buf_.size() - end_ < want) {
    std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  if (buf_.size() < std::max(need_, kReadChunk)) buf_.resize(std::max(need_, kReadChunk));
  // Full only when drain() stopped with the buffer full: space() is never empty.
  if (buf_.size() == end_) buf_.resize(buf_.size() + kReadChunk / 2);
  return {buf_.data() + end_, buf_.size() - end_};
}

void mqtt_reader::reset() {
  start_ = end_ = need_ = skip_ = skip_after_ = 0;
  if (buf_.size() > kReadChunk) {
    buf_.resize(kReadChunk);
    buf_.shrink_to_fit();
  }
}

mqtt_reader::step mqtt_reader::next(wire::packet& out, std::size_t& size) {
  const std::size_t avail = end_ - start_;
  if (avail == 0) return step::more;
  if (skip_ > 0) {
    const std::size_t k = std::min(skip_, avail);
    start_ += k;
    skip_ -= k;
    return step::skipped;
  }
  const std::string_view bytes(buf_.data() + start_, avail);
  const wire::frame f = wire::next_packet(bytes);
  skip_after_ = 0;
  if (f.status == wire::frame_status::malformed) {
    error_ = "not an MQTT packet";
    return step::malformed;
  }
  if (f.size == 0) return step::more;  // the length is not complete yet
  const std::size_t max_body = kMaxPublishHeader + max_payload_bytes_ + 1;
  const std::size_t body = f.size - f.header_size;
  if (body <= max_body) {
    if (f.status == wire::frame_status::incomplete) {
      need_ = f.size;
      return step::more;
    }
    need_ = 0;
    out = f.out;
    size = f.size;
    return step::packet;
  }
  // Too long to buffer, whether or not it is all here already (a buffer grown while a packet was
  // refused can hold one): the same rule either way, so framing does not depend on read sizes.
  const auto first = static_cast<std::uint8_t>(bytes[0]);
  if ((first >> 4) != static_cast<int>(wire::packet_type::publish)) {
    error_ = "a packet longer than any the subscriber accepts";
    return step::malformed;
  }
  const std::size_t head = wire::publish_header_size(first & 0x0f, bytes.substr(f.header_size));
  if (head == 0) {
    need_ = f.header_size + kMaxPublishHeader;
    if (avail < need_) return step::more;
    error_ = "malformed PUBLISH";
    return step::malformed;
  }
  need_ = f.header_size + head + max_payload_bytes_ + 1;
  if (avail < need_) return step::more;
  out.type = wire::packet_type::publish;
  out.flags = first & 0x0f;
  out.body = bytes.substr(f.header_size, need_ - f.header_size);
  size = need_;
  skip_after_ = f.size - need_;
  need_ = 0;
  return step::packet;
}

}  // namespace portier::gateway
