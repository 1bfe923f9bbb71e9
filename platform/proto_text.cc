#include "platform/proto_text.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace portier::platform {

namespace {

class first_error : public google::protobuf::io::ErrorCollector {
 public:
  explicit first_error(const std::string& path) : path_(path) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (message_.empty()) {
      message_ = path_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
                 message;
    }
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& message() const { return message_; }

 private:
  const std::string& path_;
  std::string message_;
};

}  // namespace

result<bool> parse_text_proto(const std::string& path, std::string_view text,
                              google::protobuf::Message& message,
                              google::protobuf::TextFormat::ParseInfoTree* locations) {
  first_error errors(path);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (locations != nullptr) parser.WriteLocationsTo(locations);
  parser.AllowUnknownField(false);
  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  if (!parser.Parse(&input, &message)) {
    return error{errors.message().empty() ? path + ": cannot parse" : errors.message()};
  }
  return true;
}

std::string describe_field(const std::string& path,
                           const google::protobuf::TextFormat::ParseInfoTree* locations,
                           const google::protobuf::Message& root,
                           std::span<const field_step> steps) {
  std::string field_path;
  const google::protobuf::Message* msg = &root;
  const google::protobuf::TextFormat::ParseInfoTree* tree = locations;
  int line = 0, column = 0;
  for (const field_step& s : steps) {
    if (!field_path.empty()) field_path += '.';
    field_path += s.field;
    if (s.index >= 0) field_path += "[" + std::to_string(s.index) + "]";
    const google::protobuf::FieldDescriptor* fd =
        msg ? msg->GetDescriptor()->FindFieldByName(s.field) : nullptr;
    if (fd == nullptr || tree == nullptr) {
      msg = nullptr;
      continue;
    }
    // List syntax ("purpose: [a, b]") records one location for the whole list, so a value has a
    // location of its own only if every value of the field was written separately.
    const google::protobuf::Reflection* r = msg->GetReflection();
    int at = s.index;
    const int size = fd->is_repeated() ? r->FieldSize(*msg, fd) : 0;
    if (at > 0 && tree->GetLocation(fd, size - 1).line < 0) at = 0;
    const auto loc = tree->GetLocation(fd, at);
    if (loc.line >= 0) {
      line = loc.line + 1;
      column = loc.column + 1;
    }
    if (fd->message_type() != nullptr && (!fd->is_repeated() || s.index < size)) {
      tree = tree->GetTreeForNested(fd, s.index);
      msg =
          fd->is_repeated() ? &r->GetRepeatedMessage(*msg, fd, s.index) : &r->GetMessage(*msg, fd);
    } else {
      msg = nullptr;
    }
  }
  std::string prefix = path;
  if (line > 0) prefix += ":" + std::to_string(line) + ":" + std::to_string(column);
  return prefix + ": " + field_path;
}

void field_errors::fail(std::initializer_list<field_step> steps, const std::string& message) {
  errors_ += describe_field(path_, locations_, root_, {steps.begin(), steps.size()}) + ": " +
             message + "\n";
}

void field_errors::range(std::initializer_list<field_step> steps, std::uint64_t v, std::uint64_t lo,
                         std::uint64_t hi) {
  if (v < lo || v > hi)
    fail(steps, "must be " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " +
                    std::to_string(v));
}

}  // namespace portier::platform
