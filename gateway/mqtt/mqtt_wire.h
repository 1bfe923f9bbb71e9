// MQTT 3.1.1 on the wire (OASIS standard, 2014): the packets portierd's ingress sends and the
// ones it reads, as pure functions over bytes. No sockets, no allocation on the read side.
//
// Reading: next_packet() frames one packet at the front of a buffer (fixed header, remaining
// length) and hands its body out as a view; parse_publish() / parse_connack() / parse_suback()
// take a body apart. Everything they return points into the caller's buffer. Every input is
// hostile: a length past the end, a fifth length byte, a QoS of 3, a zero packet id or a topic
// that runs past its packet is `malformed`, never a read outside the buffer.
//
// Writing: the encode_* functions append one packet to a std::string (the output buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portier::gateway::mqtt_wire {

enum class packet_type : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
};

enum class frame_status {
  complete,    // `out` is set and `size` bytes make up the packet
  incomplete,  // more bytes are needed: `size` is the whole packet's size once its length is known,
               // else 0
  malformed,   // not MQTT: the connection must be closed
};

struct packet {
  packet_type type{};
  std::uint8_t flags = 0;  // low nibble of the first byte
  std::string_view body;   // the variable header and payload (remaining length bytes)
};

struct frame {
  frame_status status = frame_status::incomplete;
  std::size_t header_size = 0;  // fixed header: 2 to 5 bytes; 0 until the length is complete
  std::size_t size = 0;         // header_size + remaining length
  packet out;
};

// Frames the packet at the front of `bytes`. On `complete`, out.body covers the remaining length.
frame next_packet(std::string_view bytes);

struct publish_view {
  std::string_view topic;
  std::string_view payload;
  std::uint16_t packet_id = 0;  // 0 for QoS 0
  int qos = 0;
  bool dup = false;
  bool retain = false;
};
// False when the body is not a well-formed PUBLISH (QoS 3, topic past the end, zero packet id).
// The topic's content is not checked here: the policy drops what it cannot match (and counts it).
bool parse_publish(const packet& p, publish_view& out);

// The size of a PUBLISH's variable header (topic and packet id) from the first bytes of its body,
// or 0 when those bytes do not hold it yet or it is malformed. Lets the reader keep the head of
// an oversized PUBLISH and skip the rest of its payload without buffering it.
std::size_t publish_header_size(std::uint8_t flags, std::string_view body_prefix);

struct connack_view {
  bool session_present = false;
  std::uint8_t return_code = 0;  // 0 accepted; 1..5 refused (connack_reason())
};
bool parse_connack(const packet& p, connack_view& out);
const char* connack_reason(std::uint8_t return_code);

// SUBACK: the packet id and one return code per filter (0x80 = refused).
bool parse_suback(const packet& p, std::uint16_t& packet_id, std::string_view& codes);
// PUBREL, UNSUBACK, PUBACK, PUBREC, PUBCOMP: the packet id.
bool parse_packet_id(const packet& p, std::uint16_t& packet_id);

struct connect_options {
  std::string_view client_id;
  std::string_view username;  // omitted when empty, unless there is a password (sent empty then)
  std::string_view password;  // omitted when empty
  std::uint16_t keepalive_seconds = 30;
  bool clean_session = false;
  std::string_view will_topic;  // empty: no will
  std::string_view will_payload;
  int will_qos = 0;
  bool will_retain = false;
};

void encode_connect(std::string& out, const connect_options& o);
void encode_subscribe(std::string& out, std::uint16_t packet_id,
                      const std::vector<std::string>& filters, int qos);
void encode_unsubscribe(std::string& out, std::uint16_t packet_id,
                        const std::vector<std::string>& filters);
// PUBLISH; `packet_id` is ignored (and not sent) at QoS 0. Topic and payload are not checked:
// the caller keeps the topic valid and within 65,535 bytes, and the packet within
// kMaxRemainingLength.
void encode_publish(std::string& out, std::string_view topic, std::string_view payload, int qos,
                    bool retain, std::uint16_t packet_id);
// PUBACK, PUBREC, PUBREL (flags 0010 as the standard requires) or PUBCOMP.
void encode_ack(std::string& out, packet_type type, std::uint16_t packet_id);
void encode_pingreq(std::string& out);
void encode_disconnect(std::string& out);

// Largest remaining length MQTT can express (four length bytes).
constexpr std::size_t kMaxRemainingLength = 268'435'455;

}  // namespace portier::gateway::mqtt_wire
