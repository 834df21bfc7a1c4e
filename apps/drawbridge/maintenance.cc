#include "maintenance.h"

#include <iostream>

#include "core/error.h"
#include "drawbridge/backup.h"

namespace enarx::drawbridge::cli {

MaintenanceCommands::MaintenanceCommands(CLI::App& app) {
  backup_ = app.add_subcommand("backup", "Online backup of the embedded store (while `serve` runs)");
  backup_->add_option("--data-dir", data_dir_, "Data directory of the store")->required();
  backup_->add_option("--out", out_, "Backup directory (absent or empty)")->required();
  backup_->add_flag("--quiet", quiet_, "No progress lines, only errors");

  restore_ = app.add_subcommand("restore", "Verify a backup and restore it into a new data directory");
  restore_->add_option("--from", from_, "Backup directory written by `drawbridge backup`")->required();
  restore_->add_option("--data-dir", data_dir_, "New data directory (absent or empty)")->required();
  restore_->add_flag("--quiet", quiet_, "No progress lines, only errors");

  verify_ = app.add_subcommand("verify-store", "Check every node's blob and every blob's digest in a store");
  verify_->add_option("--data-dir", data_dir_, "Data directory of the embedded store");
  verify_->add_option("--store", store_, "sqlite (embedded) or postgres")->envname("DRAWBRIDGE_STORE")->capture_default_str();
  verify_->add_option("--postgres", postgres_, "libpq connection string")->envname("DRAWBRIDGE_POSTGRES");
  verify_->add_flag("--quiet", quiet_, "No progress lines");
}

bool MaintenanceCommands::parsed() const { return backup_->parsed() || restore_->parsed() || verify_->parsed(); }

int MaintenanceCommands::run() {
  ProgressFn progress;
  if (!quiet_) progress = [](const std::string& line) { std::cerr << "drawbridge: " << line << std::endl; };
  try {
    if (backup_->parsed()) {
      backup_sqlite_store(data_dir_, out_, progress);
      return 0;
    }
    if (restore_->parsed()) {
      restore_sqlite_store(from_, data_dir_, progress);
      return 0;
    }
    VerifyReport r;
    if (store_ == "postgres") {
      require(!postgres_.empty(), ErrorKind::kInvalidInput, "drawbridge.config.postgres",
              "--store postgres needs --postgres <conninfo> (or DRAWBRIDGE_POSTGRES)");
      r = verify_postgres_store(postgres_, progress);
    } else {
      require(store_ == "sqlite", ErrorKind::kInvalidInput, "drawbridge.config.store",
              "unknown store kind '" + store_ + "' (sqlite or postgres)");
      require(!data_dir_.empty(), ErrorKind::kInvalidInput, "drawbridge.config.data_dir", "--data-dir is required");
      r = verify_sqlite_store(data_dir_, progress);
    }
    // The report on stdout (for scripts and tickets), one problem per line.
    for (const auto& p : r.problems) std::cout << "PROBLEM " << p.code << " " << p.item << ": " << p.detail << "\n";
    if (r.problem_count > r.problems.size())
      std::cout << "... and " << (r.problem_count - r.problems.size()) << " more problems\n";
    std::cout << (r.ok() ? "OK" : "DAMAGED") << ": " << r.tags_complete << " complete and " << r.tags_pending
              << " pending tags, " << r.nodes_present << " nodes, " << r.blobs << " blobs (" << r.blob_bytes
              << " bytes), " << r.problem_count << " problems\n";
    return r.ok() ? 0 : kExitDamaged;
  } catch (const Error& e) {
    std::cerr << "drawbridge: " << e.describe() << "\n";
    return maintenance_exit_code(e.kind());
  } catch (const std::exception& e) {
    std::cerr << "drawbridge: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace enarx::drawbridge::cli
