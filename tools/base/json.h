// A small JSON writer for the one-line summaries every binary prints last on stdout, and for result files.
//
//   JsonObject summary;
//   summary.Add("status", "COMPLETE").Add("steps_to_result", 1200).AddNull("note");
//   std::cout << summary.ToString() << "\n";   // {"status":"COMPLETE","steps_to_result":1200,"note":null}
#ifndef PARSITY_TOOLS_BASE_JSON_H_
#define PARSITY_TOOLS_BASE_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace parsity {

// Escapes `text` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);

// Formats a double so that it reads back to the same value; NaN and infinities (not JSON) become null.
std::string JsonNumber(double value);

class JsonArray;

// Builds one JSON object; keys keep their insertion order.
class JsonObject {
 public:
  JsonObject& Add(absl::string_view key, absl::string_view value);
  JsonObject& Add(absl::string_view key, const char* value) { return Add(key, absl::string_view(value)); }
  JsonObject& Add(absl::string_view key, const std::string& value) { return Add(key, absl::string_view(value)); }
  JsonObject& Add(absl::string_view key, double value);
  JsonObject& Add(absl::string_view key, float value) { return Add(key, static_cast<double>(value)); }
  JsonObject& Add(absl::string_view key, int64_t value);
  JsonObject& Add(absl::string_view key, int value) { return Add(key, static_cast<int64_t>(value)); }
  JsonObject& Add(absl::string_view key, uint64_t value);
  JsonObject& Add(absl::string_view key, bool value);
  JsonObject& Add(absl::string_view key, const JsonObject& value);
  JsonObject& Add(absl::string_view key, const JsonArray& value);
  JsonObject& AddNull(absl::string_view key);
  // Adds already-serialized JSON as the value.
  JsonObject& AddRaw(absl::string_view key, absl::string_view json);

  std::string ToString() const;

 private:
  std::vector<std::string> members_;
};

// Builds one JSON array.
class JsonArray {
 public:
  JsonArray& Add(absl::string_view value);
  JsonArray& Add(double value);
  JsonArray& Add(int64_t value);
  JsonArray& Add(const JsonObject& value);
  JsonArray& AddRaw(absl::string_view json);

  std::string ToString() const;

 private:
  std::vector<std::string> elements_;
};

}  // namespace parsity

#endif  // PARSITY_TOOLS_BASE_JSON_H_
