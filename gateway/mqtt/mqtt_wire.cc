#include "gateway/mqtt/mqtt_wire.h"

namespace portier::gateway::mqtt_wire {

namespace {

std::uint16_t be16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(b[at]) << 8) |
                                    static_cast<std::uint8_t>(b[at + 1]));
}

void put16(std::string& out, std::size_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

void put_string(std::string& out, std::string_view s) {
  put16(out, s.size());
  out.append(s);
}

void put_header(std::string& out, std::uint8_t first, std::size_t remaining) {
  out.push_back(static_cast<char>(first));
  do {
    auto digit = static_cast<std::uint8_t>(remaining % 128);
    remaining /= 128;
    if (remaining > 0) digit |= 0x80;
    out.push_back(static_cast<char>(digit));
  } while (remaining > 0);
}

}  // namespace

frame next_packet(std::string_view bytes) {
  frame f;
  if (bytes.empty()) return f;
  const auto first = static_cast<std::uint8_t>(bytes[0]);
  const auto type = first >> 4;
  if (type == 0 || type == 15) {  // reserved
    f.status = frame_status::malformed;
    return f;
  }
  std::size_t remaining = 0;
  std::size_t multiplier = 1;
  std::size_t i = 1;
  for (;; ++i) {
    if (i > 4) {  // a fifth length byte
      f.status = frame_status::malformed;
      return f;
    }
    if (i >= bytes.size()) return f;  // incomplete, size unknown
    const auto digit = static_cast<std::uint8_t>(bytes[i]);
    remaining += (digit & 0x7f) * multiplier;
    multiplier *= 128;
    if ((digit & 0x80) == 0) break;
  }
  f.header_size = i + 1;
  f.size = f.header_size + remaining;
  if (bytes.size() < f.size) return f;
  f.status = frame_status::complete;
  f.out.type = static_cast<packet_type>(type);
  f.out.flags = first & 0x0f;
  f.out.body = bytes.substr(f.header_size, remaining);
  return f;
}

std::size_t publish_header_size(std::uint8_t flags, std::string_view body_prefix) {
  const int qos = (flags >> 1) & 0x03;
  if (qos == 3 || body_prefix.size() < 2) return 0;
  const std::size_t size = 2 + be16(body_prefix, 0) + (qos > 0 ? 2 : 0);
  return body_prefix.size() >= size ? size : 0;
}

bool parse_publish(const packet& p, publish_view& out) {
  if (p.type != packet_type::publish) return false;
  out.qos = (p.flags >> 1) & 0x03;
  out.dup = (p.flags & 0x08) != 0;
  out.retain = (p.flags & 0x01) != 0;
  if (out.qos == 3) return false;
  const std::string_view b = p.body;
  if (b.size() < 2) return false;
  const std::size_t topic_len = be16(b, 0);
  std::size_t at = 2 + topic_len;
  if (b.size() < at) return false;
  out.topic = b.substr(2, topic_len);
  out.packet_id = 0;
  if (out.qos > 0) {
    if (b.size() < at + 2) return false;
    out.packet_id = be16(b, at);
    if (out.packet_id == 0) return false;
    at += 2;
  }
  out.payload = b.substr(at);
  return true;
}

bool parse_connack(const packet& p, connack_view& out) {
  if (p.type != packet_type::connack || p.body.size() != 2) return false;
  const auto ack_flags = static_cast<std::uint8_t>(p.body[0]);
  if ((ack_flags & 0xfe) != 0) return false;
  out.session_present = (ack_flags & 0x01) != 0;
  out.return_code = static_cast<std::uint8_t>(p.body[1]);
  return true;
}

const char* connack_reason(std::uint8_t return_code) {
  switch (return_code) {
    case 0:
      return "accepted";
    case 1:
      return "unacceptable protocol version";
    case 2:
      return "client identifier rejected";
    case 3:
      return "server unavailable";
    case 4:
      return "bad user name or password";
    case 5:
      return "not authorized";
    default:
      return "unknown return code";
  }
}

bool parse_suback(const packet& p, std::uint16_t& packet_id, std::string_view& codes) {
  if (p.type != packet_type::suback || p.body.size() < 3) return false;
  packet_id = be16(p.body, 0);
  codes = p.body.substr(2);
  return packet_id != 0;
}

bool parse_packet_id(const packet& p, std::uint16_t& packet_id) {
  if (p.body.size() != 2) return false;
  packet_id = be16(p.body, 0);
  return packet_id != 0;
}

void encode_connect(std::string& out, const connect_options& o) {
  std::uint8_t flags = o.clean_session ? 0x02 : 0x00;
  std::size_t remaining = 10 + 2 + o.client_id.size();
  // A password needs the user name flag (MQTT-3.1.2-22): without a user name an empty one is sent.
  const bool with_username = !o.username.empty() || !o.password.empty();
  if (!o.will_topic.empty()) {
    flags |= static_cast<std::uint8_t>(0x04 | (o.will_qos & 3) << 3 | (o.will_retain ? 0x20 : 0));
    remaining += 2 + o.will_topic.size() + 2 + o.will_payload.size();
  }
  if (with_username) {
    flags |= 0x80;
    remaining += 2 + o.username.size();
  }
  if (!o.password.empty()) {
    flags |= 0x40;
    remaining += 2 + o.password.size();
  }
  put_header(out, 0x10, remaining);
  put_string(out, "MQTT");
  out.push_back(4);  // protocol level: 3.1.1
  out.push_back(static_cast<char>(flags));
  put16(out, o.keepalive_seconds);
  put_string(out, o.client_id);
  if (!o.will_topic.empty()) {
    put_string(out, o.will_topic);
    put_string(out, o.will_payload);
  }
  if (with_username) put_string(out, o.username);
  if (!o.password.empty()) put_string(out, o.password);
}

void encode_subscribe(std::string& out, std::uint16_t packet_id,
                      const std::vector<std::string>& filters, int qos) {
  std::size_t remaining = 2;
  for (const auto& f : filters) remaining += 2 + f.size() + 1;
  put_header(out, 0x82, remaining);
  put16(out, packet_id);
  for (const auto& f : filters) {
    put_string(out, f);
    out.push_back(static_cast<char>(qos));
  }
}

void encode_unsubscribe(std::string& out, std::uint16_t packet_id,
                        const std::vector<std::string>& filters) {
  std::size_t remaining = 2;
  for (const auto& f : filters) remaining += 2 + f.size();
  put_header(out, 0xa2, remaining);
  put16(out, packet_id);
  for (const auto& f : filters) put_string(out, f);
}

void encode_publish(std::string& out, std::string_view topic, std::string_view payload, int qos,
                    bool retain, std::uint16_t packet_id) {
  const std::size_t remaining = 2 + topic.size() + (qos > 0 ? 2 : 0) + payload.size();
  put_header(out, static_cast<std::uint8_t>(0x30 | (qos & 3) << 1 | (retain ? 1 : 0)), remaining);
  put_string(out, topic);
  if (qos > 0) put16(out, packet_id);
  out.append(payload);
}

void encode_ack(std::string& out, packet_type type, std::uint16_t packet_id) {
  const auto first = static_cast<std::uint8_t>(static_cast<std::uint8_t>(type) << 4 |
                                               (type == packet_type::pubrel ? 0x02 : 0x00));
  out.push_back(static_cast<char>(first));
  out.push_back(2);
  put16(out, packet_id);
}

void encode_pingreq(std::string& out) {
  out.append("\xc0\x00", 2);
}

void encode_disconnect(std::string& out) {
  out.append("\xe0\x00", 2);
}

}  // namespace portier::gateway::mqtt_wire
