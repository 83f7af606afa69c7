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

}  // namespace parsity

#endif  // PARSITY_TOOLS_BASE_CSV_H_
