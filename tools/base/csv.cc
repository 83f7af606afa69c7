#include "tools/base/csv.h"

#include <cmath>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/base/atomic_file.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"

namespace parsity {

std::optional<size_t> CsvTable::Column(absl::string_view name) const {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) return std::nullopt;
  return static_cast<size_t>(it - header.begin());
}

std::string CsvTable::Where(size_t row) const { return absl::StrCat(path, ":", row + 2); }

absl::StatusOr<CsvTable> ReadCsv(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  CsvTable table;
  table.path = path;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    if (first) {
      table.header = std::move(fields);
      first = false;
      continue;
    }
    table.rows.push_back(std::move(fields));
    table.lines.emplace_back(line);
  }
  return table;
}

std::string CsvNumber(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return JsonNumber(value);
}

}  // namespace parsity
