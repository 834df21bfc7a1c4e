// Byte counts for people: "512 B", "1.5 KiB", "96.0 MiB" (binary units, one decimal).
#pragma once

#include <cstdint>
#include <string>

namespace enarx {

std::string human_size(std::uint64_t bytes);

}  // namespace enarx
