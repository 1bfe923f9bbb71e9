// Fuzz target: the byte stream from the local broker, framed by mqtt_reader and taken apart by
// the mqtt_wire parsers. The input's first four bytes choose the reader's max_payload_bytes
// (0..300), how the stream arrives (as much as space() offers, byte by byte, or random read
// sizes), whether the consumer refuses packets now and then (drain() stops; the packet must come
// again first) and whether the rest is taken literally or with runs expanded (0xEE, n, c stands
// for (n + 1) * 512 bytes c), so that PUBLISHes larger than the reader's bound are reachable.
//
// Every packet handed over is checked against an independent model of the stream: it is the
// packet at that position (type, flags, body bytes), whole unless it is a PUBLISH too long to
// buffer, which comes as its head with exactly max_payload_bytes + 1 bytes of payload; the
// reader buffers exactly what it has not handed over or skipped, never more than its bound, and
// reports malformed only for what is. The sequence of packets must not depend on how the
// stream was cut into reads.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/mqtt/mqtt_reader.h"
#include "gateway/mqtt/mqtt_wire.h"

namespace {

using portier::gateway::mqtt_reader;
namespace wire = portier::gateway::mqtt_wire;

constexpr std::size_t kMaxPublishHeader = 2 + 65535 + 2;
constexpr std::size_t kMaxStream = 1 << 20;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "\n*** INVARIANT VIOLATED: %s\n", what);
  std::abort();
}

void require(bool ok, const char* what) {
  if (!ok) violated(what);
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// The parsers on any packet: no read outside the body, results consistent with it.
void check_parsers(const wire::packet& p) {
  wire::publish_view pub;
  if (wire::parse_publish(p, pub)) {
    require(p.type == wire::packet_type::publish, "parse_publish accepted another type");
    require(inside(pub.topic, p.body) && inside(pub.payload, p.body),
            "PUBLISH topic or payload outside the body");
    require(pub.topic.data() == p.body.data() + 2, "PUBLISH topic not after its length");
    const std::size_t head = 2 + pub.topic.size() + (pub.qos > 0 ? 2 : 0);
    require(head + pub.payload.size() == p.body.size(), "PUBLISH parts do not add up");
    require(pub.qos == ((p.flags >> 1) & 3) && pub.qos < 3, "PUBLISH QoS");
    require((pub.packet_id != 0) == (pub.qos > 0), "PUBLISH packet id");
    require(wire::publish_header_size(p.flags, p.body) == head, "publish_header_size");
    require(wire::publish_header_size(p.flags, p.body.substr(0, head - 1)) == 0,
            "publish_header_size on a short prefix");
  }
  wire::connack_view ack;
  if (wire::parse_connack(p, ack)) {
    require(p.type == wire::packet_type::connack && p.body.size() == 2, "parse_connack");
    require(wire::connack_reason(ack.return_code) != nullptr, "connack_reason");
  }
  std::uint16_t id = 0;
  std::string_view codes;
  if (wire::parse_suback(p, id, codes)) {
    require(p.type == wire::packet_type::suback && id != 0, "parse_suback");
    require(inside(codes, p.body) && codes.size() + 2 == p.body.size() && !codes.empty(),
            "SUBACK codes");
  }
  if (wire::parse_packet_id(p, id)) require(p.body.size() == 2 && id != 0, "parse_packet_id");
}

struct record {
  wire::packet_type type;
  std::uint8_t flags;
  std::string body;
  bool operator==(const record&) const = default;
};

struct options {
  std::size_t max_payload_bytes = 0;
  int chunking = 0;  // 0 what space() offers, 1 byte by byte, 2 random up to 64, 3 random mixed
  std::uint32_t seed = 1;
  unsigned refuse_every = 0;  // 0: never refuse
  bool space_after_refusal = false;
};

struct outcome {
  std::vector<record> packets;
  mqtt_reader::status last = mqtt_reader::status::drained;
};

// Feeds `stream` through a reader and checks every step against the model: `pos` is where the
// next packet to hand over starts in the stream, `fed` how much of it was committed.
outcome run(std::string_view stream, const options& o) {
  mqtt_reader r(o.max_payload_bytes);
  const std::size_t limit = kMaxPublishHeader + o.max_payload_bytes + 1;  // longest body kept
  // One whole packet; space() with the buffer full after a refusal may add half a read chunk.
  std::size_t bound = std::max(mqtt_reader::kReadChunk, 5 + limit);
  outcome out;
  std::size_t fed = 0, pos = 0, offered = 0;
  std::uint32_t rng = o.seed | 1;
  const auto random = [&] {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  };
  bool refused_pending = false;
  record refused;

  const auto take = [&](const wire::packet& p) {
    ++offered;
    const std::string_view at = stream.substr(pos, fed - pos);
    const wire::frame f = wire::next_packet(at);
    require(f.status != wire::frame_status::malformed, "a packet handed over where none starts");
    require(f.size != 0, "a packet handed over before its length was read");
    require(static_cast<std::uint8_t>(at[0]) == (static_cast<int>(p.type) << 4 | p.flags),
            "type or flags differ from the stream");
    const std::size_t full = f.size - f.header_size;
    require(p.body.size() <= full && f.header_size + p.body.size() <= at.size(),
            "body runs past the packet or the bytes fed");
    require(p.body == at.substr(f.header_size, p.body.size()), "body differs from the stream");
    if (p.body.size() == full) {
      require(full <= limit, "a packet longer than the bound handed over whole");
    } else {
      require(p.type == wire::packet_type::publish, "a packet other than PUBLISH was cut");
      require(full > limit, "a PUBLISH within the bound was cut");
      const std::size_t head = wire::publish_header_size(p.flags, p.body);
      require(head != 0 && p.body.size() == head + o.max_payload_bytes + 1,
              "a cut PUBLISH does not keep exactly max_payload_bytes + 1 of payload");
      wire::publish_view v;
      if (wire::parse_publish(p, v))
        require(v.payload.size() == o.max_payload_bytes + 1, "cut PUBLISH payload size");
    }
    check_parsers(p);
    record rec{p.type, p.flags, std::string(p.body)};
    if (refused_pending) {
      require(rec == refused, "the refused packet was not handed over first on the next drain");
      refused_pending = false;
    } else if (o.refuse_every != 0 && offered % o.refuse_every == 0) {
      refused = std::move(rec);
      refused_pending = true;
      return false;
    }
    out.packets.push_back(std::move(rec));
    pos += f.size;
    return true;
  };

  // After drain: what the reader holds is exactly the stream from `pos` to `fed`.
  const auto check_buffered = [&] {
    require(r.buffered() == (fed > pos ? fed - pos : 0), "buffered() disagrees with the stream");
  };

  while (fed < stream.size()) {
    const auto room = r.space();
    require(!room.empty(), "space() is empty");
    require(r.buffered() + room.size() <= bound, "the buffer grew past its bound");
    std::size_t n = room.size();
    switch (o.chunking) {
      case 1:
        n = 1;
        break;
      case 2:
        n = 1 + random() % 64;
        break;
      case 3:
        n = (random() & 1) != 0 ? 1 + random() % 8 : 1 + random() % 100'000;
        break;
      default:
        break;
    }
    n = std::min({n, room.size(), stream.size() - fed});
    std::memcpy(room.data(), stream.data() + fed, n);
    r.commit(n);
    fed += n;
    out.last = r.drain(take);
    while (out.last == mqtt_reader::status::stopped) {
      require(refused_pending, "drain stopped although every packet was taken");
      check_buffered();
      if (o.space_after_refusal) {
        r.space();
        bound += mqtt_reader::kReadChunk / 2;
      }
      out.last = r.drain(take);
    }
    require(!refused_pending, "a refused packet was not handed over again");
    if (out.last == mqtt_reader::status::malformed) {
      const std::string_view at = stream.substr(pos, fed - pos);
      const wire::frame f = wire::next_packet(at);
      bool justified = f.status == wire::frame_status::malformed;
      if (!justified && f.size != 0 && f.size - f.header_size > limit) {
        const auto first = static_cast<std::uint8_t>(at[0]);
        justified = (first >> 4) != static_cast<int>(wire::packet_type::publish) ||
                    wire::publish_header_size(first & 0x0f, at.substr(f.header_size)) == 0;
      }
      require(justified, "malformed reported for a well-formed stream");
      require(std::strlen(r.error()) != 0, "malformed without a reason");
      return out;
    }
    check_buffered();
    if (pos < fed) {
      // Nothing the reader could hand over is left waiting.
      const std::string_view at = stream.substr(pos, fed - pos);
      const wire::frame f = wire::next_packet(at);
      require(f.status == wire::frame_status::incomplete, "drained with a whole packet waiting");
      if (f.size != 0 && f.size - f.header_size > limit) {
        const auto first = static_cast<std::uint8_t>(at[0]);
        require((first >> 4) == static_cast<int>(wire::packet_type::publish),
                "drained with an oversized packet other than PUBLISH");
        const std::size_t head = wire::publish_header_size(first & 0x0f, at.substr(f.header_size));
        require(head == 0 ? at.size() < f.header_size + kMaxPublishHeader
                          : at.size() < f.header_size + head + o.max_payload_bytes + 1,
                "drained with the head of an oversized PUBLISH waiting");
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  options o;
  o.max_payload_bytes = ((std::size_t{data[0]} << 8) | data[1]) % 301;
  o.chunking = data[2] & 3;
  o.refuse_every = (data[2] & 0x04) != 0 ? 1 + ((data[2] >> 5) & 7) : 0;
  o.space_after_refusal = (data[2] & 0x08) != 0;
  const bool expand = (data[2] & 0x10) != 0;
  o.seed = data[3];

  std::string stream;
  for (std::size_t i = 4; i < size && stream.size() < kMaxStream; ++i) {
    if (expand && data[i] == 0xee && i + 2 < size) {
      stream.append((std::size_t{data[i + 1]} + 1) * 512, static_cast<char>(data[i + 2]));
      i += 2;
    } else {
      stream.push_back(static_cast<char>(data[i]));
    }
  }

  const outcome got = run(stream, o);
  // The same stream in the largest reads the reader offers, nothing refused.
  options plain;
  plain.max_payload_bytes = o.max_payload_bytes;
  const outcome reference = run(stream, plain);
  if (got.packets != reference.packets) violated("the packets depend on how the stream was read");
  if (got.last != reference.last) violated("the final status depends on how the stream was read");
  return 0;
}
