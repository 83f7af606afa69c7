#include "tools/base/json.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace parsity {

std::string JsonQuote(absl::string_view text) {
  std::string quoted = "\"";
  for (const char character : text) {
    switch (character) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\n': quoted += "\\n"; break;
      case '\r': quoted += "\\r"; break;
      case '\t': quoted += "\\t"; break;
      default:
        if (static_cast<unsigned char>(character) < 0x20) {
          quoted += absl::StrFormat("\\u%04x", static_cast<int>(character));
        } else {
          quoted += character;
        }
    }
  }
  quoted += '"';
  return quoted;
}

std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  // %.17g round-trips every double; try shorter forms first so that 0.1 prints as 0.1.
  for (int precision = 6; precision <= 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, value);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

JsonObject& JsonObject::AddRaw(absl::string_view key, absl::string_view json) {
  members_.push_back(absl::StrCat(JsonQuote(key), ":", json));
  return *this;
}
JsonObject& JsonObject::Add(absl::string_view key, absl::string_view value) { return AddRaw(key, JsonQuote(value)); }
JsonObject& JsonObject::Add(absl::string_view key, double value) { return AddRaw(key, JsonNumber(value)); }
JsonObject& JsonObject::Add(absl::string_view key, int64_t value) { return AddRaw(key, absl::StrCat(value)); }
JsonObject& JsonObject::Add(absl::string_view key, uint64_t value) { return AddRaw(key, absl::StrCat(value)); }
JsonObject& JsonObject::Add(absl::string_view key, bool value) { return AddRaw(key, value ? "true" : "false"); }
JsonObject& JsonObject::Add(absl::string_view key, const JsonObject& value) { return AddRaw(key, value.ToString()); }
JsonObject& JsonObject::Add(absl::string_view key, const JsonArray& value) { return AddRaw(key, value.ToString()); }
JsonObject& JsonObject::AddNull(absl::string_view key) { return AddRaw(key, "null"); }

std::string JsonObject::ToString() const { return absl::StrCat("{", absl::StrJoin(members_, ","), "}"); }

JsonArray& JsonArray::AddRaw(absl::string_view json) {
  elements_.emplace_back(json);
  return *this;
}
JsonArray& JsonArray::Add(absl::string_view value) { return AddRaw(JsonQuote(value)); }
JsonArray& JsonArray::Add(double value) { return AddRaw(JsonNumber(value)); }
JsonArray& JsonArray::Add(int64_t value) { return AddRaw(absl::StrCat(value)); }
JsonArray& JsonArray::Add(const JsonObject& value) { return AddRaw(value.ToString()); }

std::string JsonArray::ToString() const { return absl::StrCat("[", absl::StrJoin(elements_, ","), "]"); }

}  // namespace parsity
