// The CSV files parsity writes and reads back (lipschitz.csv, gradient_noise.csv, Shallue et al.'s
// measurements.csv): a header line of column names, then rows of comma-separated fields without quoting. Blank lines
// are skipped; line numbers in messages count the lines that remain, the header being line 1.
//
//   ASSIGN_OR_RETURN(const CsvTable table, ReadCsv(path));
//   const std::optional<size_t> step = table.Column("step");
//   for (size_t row = 0; row < table.rows.size(); ++row) ... table.rows[row][*step] ... table.Where(row) ...
#ifndef PARSITY_TOOLS_BASE_CSV_H_
#define PARSITY_TOOLS_BASE_CSV_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace parsity {

struct CsvTable {
  std::string path;
  std::vector<std::string> header;             // Empty for an empty file.
  std::vector<std::vector<std::string>> rows;  // The fields of each line after the header.
  std::vector<std::string> lines;              // Each row's line as written, for messages.

  // The index of the header's column `name`, or std::nullopt.
  std::optional<size_t> Column(absl::string_view name) const;
  // "PATH:LINE" of rows[row].
  std::string Where(size_t row) const;
};

// Reads `path`. Errors: those of ReadFile (tools/base/atomic_file.h).
absl::StatusOr<CsvTable> ReadCsv(const std::string& path);

// A number for a CSV field: the shortest text that reads back to the same double (as JsonNumber), and "inf", "-inf"
// or "nan" for the values JSON cannot hold (JsonNumber writes those as null). Every CSV parsity writes uses it, and
// absl::SimpleAtod reads all of them back.
std::string CsvNumber(double value);

}  // namespace parsity

#endif  // PARSITY_TOOLS_BASE_CSV_H_
