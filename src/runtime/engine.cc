// The engine-neutral parts of engine.h: loading the V8 engine plugin, and the memory-limit
// rewriting of a module (plain byte parsing, no engine needed).
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>

#include "core/error.h"
#include "runtime/engine.h"

namespace enarx::runtime {
namespace {

// libenarx-v8.so (built from v8_engine.cc) is opened by the absolute path CMake gives it
// (ENARX_V8_PLUGIN_PATH, in the build tree), else by name through the usual search
// (LD_LIBRARY_PATH, system directories) for binaries moved elsewhere. It is loaded once and never
// unloaded (V8's process-wide state lives until exit), RTLD_LOCAL: libnode's 57k symbols stay
// out of the global scope.
//
// RTLD_DEEPBIND: the plugin and libnode look their symbols up in their own scope first. Without
// it each of libnode's 61k symbol relocations first misses in every library of the executable's
// global scope: measured 56 -> 44 ms CPU for the dlopen, when that scope still held libcurl and
// its ~35 dependencies (now loaded on demand, net/curl_library.h). The
// only symbols libnode defines that the global scope also has are libstdc++ template
// instances (same code). Not under AddressSanitizer, which must interpose malloc for everyone
// and refuses RTLD_DEEPBIND.
constexpr const char* kPluginPath = ENARX_V8_PLUGIN_PATH;
constexpr const char* kPlugin = "libenarx-v8.so";
constexpr const char* kFactory = "enarx_runtime_make_v8_engine";
using Factory = Engine* (*)(const EngineOptions*);

std::string dl_error() {
  const char* e = dlerror();
  return e ? e : "unknown error";
}

Factory load_plugin() {
  int flags = RTLD_NOW | RTLD_LOCAL | (address_sanitizer_build() ? 0 : RTLD_DEEPBIND);
  void* lib = dlopen(kPluginPath, flags);
  if (!lib) {
    std::string why = dl_error();
    lib = dlopen(kPlugin, flags);
    if (!lib)
      throw Error(ErrorKind::kInvalidInput, "runtime.engine", "cannot load the V8 engine: " + why + "; " + dl_error());
  }
  void* sym = dlsym(lib, kFactory);
  if (!sym) throw Error(ErrorKind::kInvalidInput, "runtime.engine", std::string(kPlugin) + " lacks " + kFactory);
  return reinterpret_cast<Factory>(sym);
}

struct Reader {
  ByteView b;
  std::size_t pos = 0;
  uint8_t byte() {
    if (pos >= b.size()) throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", "truncated module");
    return b[pos++];
  }
  uint32_t leb_u32() {
    uint32_t result = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      uint8_t v = byte();
      result |= static_cast<uint32_t>(v & 0x7f) << shift;
      if (!(v & 0x80)) return result;
    }
    throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", "bad LEB128");
  }
};

void put_leb(Bytes& out, uint32_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    out.push_back(v ? (b | 0x80) : b);
  } while (v);
}

}  // namespace

std::unique_ptr<Engine> make_v8_engine(const EngineOptions& options) {
  static std::mutex mu;
  static Factory factory = nullptr;
  {
    std::lock_guard lock(mu);
    if (!factory) factory = load_plugin();  // a failed load is retried by the next call
  }
  return std::unique_ptr<Engine>(factory(&options));
}

Bytes limit_memory(ByteView wasm, std::uint32_t max_pages) {
  static const uint8_t kHeader[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  if (wasm.size() < 8 || std::memcmp(wasm.data(), kHeader, 8) != 0)
    throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", "not a WebAssembly 1.0 binary module");
  Bytes out(wasm.begin(), wasm.begin() + 8);
  Reader r{wasm, 8};
  while (r.pos < wasm.size()) {
    std::size_t start = r.pos;
    uint8_t id = r.byte();
    uint32_t size = r.leb_u32();
    if (size > wasm.size() - r.pos) throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", "section overruns module");
    std::size_t body = r.pos, end = r.pos + size;
    if (id != 5) {
      out.insert(out.end(), wasm.begin() + start, wasm.begin() + end);
      r.pos = end;
      continue;
    }
    Reader s{wasm.subspan(0, end), body};
    Bytes sec;
    uint32_t count = s.leb_u32();
    put_leb(sec, count);
    for (uint32_t i = 0; i < count; ++i) {
      uint8_t flags = s.byte();
      if (flags > 3) throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", "unsupported memory limits flags");
      uint32_t min = s.leb_u32();
      uint32_t max = (flags & 1) ? s.leb_u32() : 65536;
      if (min > max_pages)
        throw Error(ErrorKind::kResourceExhausted, "runtime.limit.memory",
                    "the module's initial memory (" + std::to_string(min) +
                        " pages) exceeds the limit of " + std::to_string(max_pages) + " pages");
      sec.push_back(static_cast<uint8_t>(flags | 1));
      put_leb(sec, min);
      put_leb(sec, std::min(max, max_pages));
    }
    if (s.pos != end) throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", "memory section has trailing bytes");
    out.push_back(5);
    put_leb(out, static_cast<uint32_t>(sec.size()));
    out.insert(out.end(), sec.begin(), sec.end());
    r.pos = end;
  }
  return out;
}

namespace {

char valtype_letter(uint8_t t) {
  switch (t) {
    case 0x7f: return 'i';
    case 0x7e: return 'I';
    case 0x7d: return 'f';
    case 0x7c: return 'F';
    case 0x7b: return 'v';
    default: return 'r';
  }
}

[[noreturn]] void bad_module(const std::string& why) {
  throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", why);
}

std::string read_name(Reader& r, std::size_t end) {
  uint32_t n = r.leb_u32();
  if (n > end - std::min(end, r.pos)) bad_module("name overruns its section");
  std::string s(reinterpret_cast<const char*>(r.b.data() + r.pos), n);
  r.pos += n;
  return s;
}

void skip_limits(Reader& r) {
  uint8_t flags = r.byte();
  r.leb_u32();
  if (flags & 1) r.leb_u32();
}

}  // namespace

std::vector<FunctionImport> function_imports(ByteView wasm) {
  if (wasm.size() < 8) bad_module("not a WebAssembly binary module");
  std::vector<std::string> types;
  std::vector<FunctionImport> out;
  Reader r{wasm, 8};
  while (r.pos < wasm.size()) {
    uint8_t id = r.byte();
    uint32_t size = r.leb_u32();
    if (size > wasm.size() - r.pos) bad_module("section overruns module");
    std::size_t end = r.pos + size;
    Reader s{wasm.subspan(0, end), r.pos};
    r.pos = end;
    if (id == 1) {
      uint32_t count = s.leb_u32();
      // Each type takes at least 3 bytes: a count bounds nothing the section does not hold.
      if (count > size) bad_module("type section count overruns it");
      types.reserve(count);
      for (uint32_t i = 0; i < count; ++i) {
        if (s.byte() != 0x60) bad_module("unsupported type form");
        std::string sig;
        for (int part = 0; part < 2; ++part) {
          uint32_t n = s.leb_u32();
          if (n > end - s.pos) bad_module("type overruns its section");
          for (uint32_t k = 0; k < n; ++k) sig.push_back(valtype_letter(s.byte()));
          if (part == 0) sig.push_back(':');
        }
        types.push_back(std::move(sig));
      }
    } else if (id == 2) {
      uint32_t count = s.leb_u32();
      if (count > size) bad_module("import section count overruns it");
      for (uint32_t i = 0; i < count; ++i) {
        FunctionImport f;
        f.module = read_name(s, end);
        f.name = read_name(s, end);
        uint8_t kind = s.byte();
        if (kind == 0) {
          uint32_t t = s.leb_u32();
          if (t >= types.size()) bad_module("import " + f.module + "." + f.name + " names no type");
          f.signature = types[t];
          out.push_back(std::move(f));
        } else if (kind == 1) {
          s.byte();
          skip_limits(s);
        } else if (kind == 2) {
          skip_limits(s);
        } else if (kind == 3) {
          s.byte();
          s.byte();
        } else if (kind == 4) {
          s.byte();
          s.leb_u32();
        } else {
          bad_module("unknown import kind");
        }
      }
      return out;  // imports come before every section that could matter here
    } else if (id > 2 && id != 0) {
      return out;  // past the imports: the module has none
    }
  }
  return out;
}

}  // namespace enarx::runtime
