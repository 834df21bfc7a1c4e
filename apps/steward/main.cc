// steward: placeholder entry point until its issue lands (see README).
#include <CLI/CLI.hpp>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"steward"};
  app.set_version_flag("--version", std::string("steward ") + ENARX_VERSION);
  CLI11_PARSE(app, argc, argv);
  std::cerr << "steward: not implemented yet\n";
  return 1;
}
