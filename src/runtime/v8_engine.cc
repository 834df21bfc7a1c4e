// The Engine interface over V8 10.2 (Debian's libnode108), through V8's C++ API only: no Node
// environment is created and no JavaScript source is ever compiled or run. The WebAssembly JS
// API objects (WebAssembly.Instance, Module.imports, compileStreaming) are reached from C++
// because V8 10.2 has no other way to instantiate a module with host imports.
//
// This file is the whole engine plugin, libenarx-v8.so: the only code linked against libnode.
// Executables dlopen it on their first make_v8_engine() (engine.cc), so commands that run no
// wasm never pay for mapping and relocating the 47 MB library before main().
#include <libplatform/libplatform.h>
#include <v8-version.h>
#include <v8.h>

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "runtime/engine.h"

namespace enarx::runtime {
namespace {

using v8::Local;

struct V8Process {
  std::unique_ptr<v8::Platform> platform;
  bool trap_handler = false;
  bool optimize = true;
};

V8Process& v8_process(const EngineOptions& options) {
  static V8Process process;
  static std::once_flag once;
  std::call_once(once, [&] {
    // Flags are read at Initialize(); they also feed the code cache's flag hash, so they must be
    // identical between the run that writes a cache entry and the one that loads it.
    std::string flags;
    // Tiered: eager background tier-up of every function (not V8's default dynamic tiering,
    // which optimises only hot functions, so its modules could never be serialised whole).
    flags += options.optimize ? "--no-liftoff --no-wasm-tier-up"
                              : "--liftoff --wasm-tier-up --no-wasm-dynamic-tiering";
    // TurboFan's instruction scheduler (off by default in V8 10.2) reorders each basic block
    // before register allocation. Without it, the guard-page (trap handler) build of the
    // sha256 bench's round loop resolves its eight rotating loop values with 26 register moves
    // and two stack slots each swapped twice per round (a store, then a reload of the same
    // slot) against 12 moves with explicit bounds checks: 1.30x native instead of 1.15x. With
    // it, 17 moves, one double swap, 1.13-1.15x; matmul's and sort's loops are the same
    // instructions reordered (docs/runtime.md, "Trap handler vs bounds checks"). Its compile
    // time was below the noise of the measurements (eager hello +6%, eager go-hello -4%).
    flags += " --turbo-instruction-scheduling";
    process.optimize = options.optimize;
    v8::V8::SetFlagsFromString(flags.c_str());
    process.platform = v8::platform::NewDefaultPlatform();
    v8::V8::InitializePlatform(process.platform.get());
    v8::V8::Initialize();
    if (options.trap_handler && trap_handler_supported())
      process.trap_handler = v8::V8::EnableWebAssemblyTrapHandler(true);
  });
  return process;
}

Local<v8::String> str(v8::Isolate* iso, std::string_view s) {
  return v8::String::NewFromUtf8(iso, s.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(s.size()))
      .ToLocalChecked();
}

std::string to_std(v8::Isolate* iso, Local<v8::Value> v) {
  if (v.IsEmpty()) return {};
  v8::String::Utf8Value u(iso, v);
  return *u ? std::string(*u, u.length()) : std::string();
}

// An isolate with one context. Shared by the engine, its modules and instances so that V8
// handles never outlive their isolate, whatever order the owners are destroyed in.
struct IsolateHolder {
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator;
  v8::Isolate* isolate = nullptr;
  v8::Global<v8::Context> context;
  v8::Platform* platform = nullptr;

  ~IsolateHolder() {
    context.Reset();
    if (isolate) isolate->Dispose();
  }
};

// Enters the isolate and context for one API call.
struct Scope {
  explicit Scope(IsolateHolder& h)
      : iso(h.isolate), is(iso), hs(iso), ctx(h.context.Get(iso)), cs(ctx) {}
  v8::Isolate* iso;
  v8::Isolate::Scope is;
  v8::HandleScope hs;
  Local<v8::Context> ctx;
  v8::Context::Scope cs;
};

Local<v8::Object> get_object(Local<v8::Context> ctx, Local<v8::Object> o, std::string_view key) {
  Local<v8::Value> v;
  if (!o->Get(ctx, str(ctx->GetIsolate(), key)).ToLocal(&v) || !v->IsObject())
    throw Error(ErrorKind::kInvalidInput, "runtime.engine", "V8 object lacks " + std::string(key));
  return v.As<v8::Object>();
}

Local<v8::Object> webassembly(Local<v8::Context> ctx) {
  return get_object(ctx, ctx->Global(), "WebAssembly");
}

std::string exception_text(v8::Isolate* iso, const v8::TryCatch& tc) {
  if (tc.HasTerminated()) return "execution terminated";
  std::string s = to_std(iso, tc.Exception());
  return s.empty() ? "unknown error" : s;
}

// WebAssembly.Instance throws a RangeError only when it cannot allocate the instance's memory or
// tables (link failures are LinkError, bad segments RuntimeError).
bool is_range_error(Local<v8::Context> ctx, Local<v8::Value> exception) {
  Local<v8::Value> ctor;
  if (exception.IsEmpty() || !exception->IsObject() ||
      !ctx->Global()->Get(ctx, str(ctx->GetIsolate(), "RangeError")).ToLocal(&ctor) || !ctor->IsFunction())
    return false;
  return exception->InstanceOf(ctx, ctor.As<v8::Object>()).FromMaybe(false);
}

// The first "    at ..." line of a V8 error's stack: names the wasm function (by name-section
// name or "wasm-function[N]") and the byte offset of the trapping instruction.
std::string first_frame(Local<v8::Context> ctx, Local<v8::Value> exception) {
  if (exception.IsEmpty() || !exception->IsObject()) return {};
  Local<v8::Value> stack;
  if (!exception.As<v8::Object>()->Get(ctx, str(ctx->GetIsolate(), "stack")).ToLocal(&stack) ||
      !stack->IsString())
    return {};
  std::string text = to_std(ctx->GetIsolate(), stack);
  auto at = text.find("\n    at ");
  if (at == std::string::npos) return {};
  auto end = text.find('\n', at + 1);
  return text.substr(at + 5, end == std::string::npos ? std::string::npos : end - at - 5);
}

std::vector<std::pair<std::string, std::string>> describe(IsolateHolder& h,
                                                          const v8::Global<v8::WasmModuleObject>& m,
                                                          const char* which) {
  Scope s(h);
  v8::TryCatch tc(s.iso);
  Local<v8::Function> fn = get_object(s.ctx, get_object(s.ctx, webassembly(s.ctx), "Module"),
                                      which)
                               .As<v8::Function>();
  Local<v8::Value> argv[] = {m.Get(s.iso)};
  Local<v8::Value> list;
  if (!fn->Call(s.ctx, v8::Undefined(s.iso), 1, argv).ToLocal(&list) || !list->IsArray())
    throw Error(ErrorKind::kInvalidInput, "runtime.engine", "WebAssembly.Module." + std::string(which) + " failed");
  std::vector<std::pair<std::string, std::string>> out;
  Local<v8::Array> a = list.As<v8::Array>();
  for (uint32_t i = 0; i < a->Length(); ++i) {
    Local<v8::Object> d = a->Get(s.ctx, i).ToLocalChecked().As<v8::Object>();
    std::string name = to_std(s.iso, d->Get(s.ctx, str(s.iso, "name")).ToLocalChecked());
    std::string kind = to_std(s.iso, d->Get(s.ctx, str(s.iso, "kind")).ToLocalChecked());
    std::string module;
    if (std::string_view(which) == "imports")
      module = to_std(s.iso, d->Get(s.ctx, str(s.iso, "module")).ToLocalChecked());
    out.emplace_back(module + '\0' + name, kind);
  }
  return out;
}

class V8Module final : public Module {
 public:
  V8Module(std::shared_ptr<IsolateHolder> h, Local<v8::WasmModuleObject> m, bool from_cache)
      : holder_(std::move(h)), module_(holder_->isolate, m), from_cache_(from_cache) {}

  std::vector<ImportInfo> imports() const override {
    std::vector<ImportInfo> out;
    for (auto& [key, kind] : describe(*holder_, module_, "imports")) {
      auto nul = key.find('\0');
      out.push_back({key.substr(0, nul), key.substr(nul + 1), kind});
    }
    return out;
  }
  std::vector<ExportInfo> exports() const override {
    std::vector<ExportInfo> out;
    for (auto& [key, kind] : describe(*holder_, module_, "exports"))
      out.push_back({key.substr(key.find('\0') + 1), kind});
    return out;
  }
  Bytes serialize() const override {
    Scope s(*holder_);
    v8::OwnedBuffer buf = module_.Get(s.iso)->GetCompiledModule().Serialize();
    if (!buf.buffer) return {};
    return Bytes(buf.buffer.get(), buf.buffer.get() + buf.size);
  }
  bool loaded_from_cache() const override { return from_cache_; }

  const v8::Global<v8::WasmModuleObject>& handle() const { return module_; }
  const std::shared_ptr<IsolateHolder>& holder() const { return holder_; }

 private:
  std::shared_ptr<IsolateHolder> holder_;  // first: destroyed after the handle below
  v8::Global<v8::WasmModuleObject> module_;
  bool from_cache_;
};

// Per-instance state the host-function trampolines reach through v8::External.
struct InstanceState {
  v8::Isolate* isolate = nullptr;
  v8::Global<v8::WasmMemoryObject> memory;
  std::optional<int> exit_code;
  bool timed_out = false;
  std::atomic<bool> limit_passed{false};  // set by the Watchdog's thread
  std::optional<std::string> host_error;

  MemoryView view() {
    if (memory.IsEmpty()) return {};
    v8::HandleScope hs(isolate);
    Local<v8::ArrayBuffer> ab = memory.Get(isolate)->Buffer();
    return MemoryView(static_cast<uint8_t*>(ab->Data()), ab->ByteLength());
  }
};

// Copies of the host functions: the caller's Imports need not outlive the instance.
struct Binding {
  HostFunction fn;
  InstanceState* state;
};

class V8HostCall final : public HostCall {
 public:
  V8HostCall(const v8::FunctionCallbackInfo<v8::Value>& info, InstanceState* st)
      : info_(info), st_(st) {}
  std::size_t arg_count() const override { return static_cast<std::size_t>(info_.Length()); }
  std::uint64_t arg(std::size_t i) const override {
    if (i >= arg_count()) return 0;
    Local<v8::Value> v = info_[static_cast<int>(i)];
    if (v->IsBigInt()) return v.As<v8::BigInt>()->Uint64Value();
    if (v->IsInt32()) return static_cast<uint32_t>(v.As<v8::Int32>()->Value());
    if (v->IsUint32()) return v.As<v8::Uint32>()->Value();
    return 0;  // f32/f64 are not used by any host function we provide
  }
  MemoryView memory() override { return st_->view(); }
  bool interrupted() const override { return st_->limit_passed.load(std::memory_order_relaxed); }

 private:
  const v8::FunctionCallbackInfo<v8::Value>& info_;
  InstanceState* st_;
};

void trampoline(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* b = static_cast<Binding*>(info.Data().As<v8::External>()->Value());
  v8::Isolate* iso = info.GetIsolate();
  V8HostCall call(info, b->state);
  // No C++ exception may cross V8 frames: everything becomes a JS exception that unwinds the
  // wasm stack, and the reason is kept in the instance state.
  try {
    std::uint64_t r = b->fn.fn(call);
    switch (b->fn.result) {
      case ResultType::None: break;
      case ResultType::I32: info.GetReturnValue().Set(static_cast<int32_t>(r)); break;
      case ResultType::I64: info.GetReturnValue().Set(v8::BigInt::NewFromUnsigned(iso, r)); break;
    }
    return;
  } catch (const GuestExit& e) {
    b->state->exit_code = e.code;
  } catch (const GuestTimeout&) {
    b->state->timed_out = true;
  } catch (const Error& e) {
    b->state->host_error = e.describe();
  } catch (const std::exception& e) {
    b->state->host_error = e.what();
  } catch (...) {
    b->state->host_error = "unknown host error";
  }
  iso->ThrowException(str(iso, "enarx: guest stopped by the host"));
}

// CPU time consumed so far by the thread behind `clock` (from pthread_getcpuclockid).
std::chrono::nanoseconds cpu_time_of(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Stops the isolate when a CallLimits limit passes, unless disarmed first. Constructed on the
// thread that runs the guest, whose CPU clock it then watches from its own thread.
class Watchdog {
 public:
  enum class Fired { No, Deadline, CpuTime };

  // `passed` is raised with TerminateExecution, for host functions to see (HostCall::interrupted).
  Watchdog(v8::Isolate* iso, const CallLimits& limits, std::atomic<bool>* passed)
      : passed_(passed) {
    clockid_t cpu_clock{};
    std::chrono::nanoseconds cpu_start{};
    if (limits.cpu_time) {
      if (pthread_getcpuclockid(pthread_self(), &cpu_clock) != 0)
        throw Error(ErrorKind::kInvalidInput, "runtime.engine", "this thread has no CPU-time clock");
      cpu_start = cpu_time_of(cpu_clock);
    }
    thread_ = std::thread([this, iso, limits, cpu_clock, cpu_start] {
      using Clock = std::chrono::steady_clock;
      std::unique_lock lock(mu_);
      for (;;) {
        // A thread's CPU clock runs no faster than the wall clock, so sleeping for the CPU time
        // left can only wake early, never late; then it checks again.
        Clock::time_point wake = limits.deadline.value_or(Clock::time_point::max());
        if (limits.cpu_time) {
          auto left = *limits.cpu_time - (cpu_time_of(cpu_clock) - cpu_start);
          if (left <= std::chrono::nanoseconds::zero()) {
            fire(iso, Fired::CpuTime);
            return;
          }
          wake = std::min(wake, Clock::now() + left);
        }
        if (cv_.wait_until(lock, wake, [this] { return done_; })) return;
        if (limits.deadline && Clock::now() >= *limits.deadline) {
          fire(iso, Fired::Deadline);
          return;
        }
      }
    });
  }
  ~Watchdog() { disarm(); }
  Fired disarm() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return fired_;
  }

 private:
  void fire(v8::Isolate* iso, Fired why) {
    fired_ = why;
    passed_->store(true, std::memory_order_relaxed);
    iso->TerminateExecution();  // the one Isolate method that is safe from any thread
  }

  std::atomic<bool>* passed_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Fired fired_ = Fired::No;
  std::thread thread_;
};

class V8Instance final : public Instance {
 public:
  V8Instance(std::shared_ptr<IsolateHolder> h) : holder_(std::move(h)) {
    state_.isolate = holder_->isolate;
  }
  ~V8Instance() override {
    state_.memory.Reset();
    exports_.Reset();
  }

  void init(Local<v8::Object> exports) {
    v8::Isolate* iso = holder_->isolate;
    exports_.Reset(iso, exports);
    Local<v8::Value> mem;
    if (exports->Get(iso->GetCurrentContext(), str(iso, "memory")).ToLocal(&mem) &&
        mem->IsWasmMemoryObject())
      state_.memory.Reset(iso, mem.As<v8::WasmMemoryObject>());
  }

  std::deque<Binding>& bindings() { return bindings_; }
  InstanceState& state() { return state_; }

  bool has_export(const std::string& name, const std::string& kind) const override {
    Scope s(*holder_);
    Local<v8::Value> v;
    if (!exports_.Get(s.iso)->Get(s.ctx, str(s.iso, name)).ToLocal(&v)) return false;
    if (kind == "function") return v->IsFunction();
    if (kind == "memory") return v->IsWasmMemoryObject();
    return !v->IsUndefined();
  }

  MemoryView memory() override { return state_.view(); }

  CallOutcome call(const std::string& name, const std::vector<std::uint64_t>& args,
                   const CallLimits& limits) override {
    Scope s(*holder_);
    v8::TryCatch tc(s.iso);
    CallOutcome out;
    Local<v8::Value> fv;
    if (!exports_.Get(s.iso)->Get(s.ctx, str(s.iso, name)).ToLocal(&fv) || !fv->IsFunction())
      throw Error(ErrorKind::kInvalidInput, "runtime.export.missing", "the module exports no function '" + name + "'");
    std::vector<Local<v8::Value>> argv;
    for (auto a : args) argv.push_back(v8::Integer::New(s.iso, static_cast<int32_t>(a)));

    state_.exit_code.reset();
    state_.timed_out = false;
    state_.limit_passed = false;
    state_.host_error.reset();
    if (limits.deadline && *limits.deadline <= std::chrono::steady_clock::now()) {
      out.kind = CallOutcome::Kind::TimedOut;
      out.message = "time limit exceeded";
      return out;
    }
    v8::MaybeLocal<v8::Value> result;
    Watchdog::Fired why = Watchdog::Fired::No;
    {
      std::optional<Watchdog> dog;
      if (limits.deadline || limits.cpu_time) dog.emplace(s.iso, limits, &state_.limit_passed);
      result = fv.As<v8::Function>()->Call(s.ctx, v8::Undefined(s.iso),
                                           static_cast<int>(argv.size()), argv.data());
      if (dog) why = dog->disarm();
    }
    bool fired = why != Watchdog::Fired::No;
    bool terminated = tc.HasTerminated() || s.iso->IsExecutionTerminating();
    if (fired || terminated) s.iso->CancelTerminateExecution();

    if (state_.exit_code) {
      out.kind = CallOutcome::Kind::Exited;
      out.exit_code = *state_.exit_code;
    } else if (state_.timed_out || fired || terminated) {
      out.kind = CallOutcome::Kind::TimedOut;
      out.cpu_time_exceeded = why == Watchdog::Fired::CpuTime;
      out.message = out.cpu_time_exceeded ? "CPU time limit exceeded" : "time limit exceeded";
    } else if (state_.host_error) {
      out.kind = CallOutcome::Kind::Trapped;
      out.message = "host error: " + *state_.host_error;
    } else if (result.IsEmpty()) {
      out.kind = CallOutcome::Kind::Trapped;
      out.message = exception_text(s.iso, tc);
      out.location = first_frame(s.ctx, tc.Exception());
    } else {
      Local<v8::Value> r = result.ToLocalChecked();
      if (r->IsBigInt())
        out.results.push_back(r.As<v8::BigInt>()->Uint64Value());
      else if (r->IsInt32())
        out.results.push_back(static_cast<uint32_t>(r.As<v8::Int32>()->Value()));
      else if (r->IsUint32())
        out.results.push_back(r.As<v8::Uint32>()->Value());
    }
    return out;
  }

 private:
  std::shared_ptr<IsolateHolder> holder_;
  v8::Global<v8::Object> exports_;
  InstanceState state_;
  std::deque<Binding> bindings_;  // stable addresses for v8::External
};

struct StreamingInput {
  ByteView wire;
  ByteView cache;
  bool accepted = false;
};

void streaming_callback(const v8::FunctionCallbackInfo<v8::Value>& info) {
  std::shared_ptr<v8::WasmStreaming> s =
      v8::WasmStreaming::Unpack(info.GetIsolate(), info.Data());
  auto* in = static_cast<StreamingInput*>(info[0].As<v8::External>()->Value());
  if (!in->cache.empty()) in->accepted = s->SetCompiledModuleBytes(in->cache.data(), in->cache.size());
  s->OnBytesReceived(in->wire.data(), in->wire.size());
  s->Finish();
}

class V8Engine final : public Engine {
 public:
  explicit V8Engine(const EngineOptions& options) {
    V8Process& p = v8_process(options);
    optimize_ = p.optimize;
    trap_handler_ = p.trap_handler;
    holder_ = std::make_shared<IsolateHolder>();
    holder_->platform = p.platform.get();
    holder_->allocator.reset(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator = holder_->allocator.get();
    holder_->isolate = v8::Isolate::New(params);
    v8::Isolate* iso = holder_->isolate;
    // Before Context::New: V8 installs WebAssembly.compileStreaming only in later contexts.
    iso->SetWasmStreamingCallback(streaming_callback);
    v8::Isolate::Scope is(iso);
    v8::HandleScope hs(iso);
    Local<v8::Context> ctx = v8::Context::New(iso);
    // Defence in depth: nothing here evaluates JS, and eval/Function stay unusable if something
    // ever tried to. Wasm compilation is unaffected.
    ctx->AllowCodeGenerationFromStrings(false);
    holder_->context.Reset(iso, ctx);
  }

  std::string id() const override {
    // The flags change the generated code, so they are part of the cache binding too.
    return "v8-" + std::to_string(V8_MAJOR_VERSION) + "." + std::to_string(V8_MINOR_VERSION) +
           "." + std::to_string(V8_BUILD_NUMBER) + "." + std::to_string(V8_PATCH_LEVEL) +
           (optimize_ ? "-turbofan" : "-tiered") + "-sched" +
           (trap_handler_ ? "-traphandler" : "-boundschecks");
  }

  void validate(ByteView wasm) override {
    Scope s(*holder_);
    v8::TryCatch tc(s.iso);
    Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(s.iso, wasm.size());
    if (!wasm.empty()) std::memcpy(ab->Data(), wasm.data(), wasm.size());
    Local<v8::Function> fn = get_object(s.ctx, webassembly(s.ctx), "validate").As<v8::Function>();
    Local<v8::Value> argv[] = {ab};
    Local<v8::Value> ok;
    if (fn->Call(s.ctx, v8::Undefined(s.iso), 1, argv).ToLocal(&ok) && ok->IsTrue()) return;
    // Only a compile says why; it fails fast on an invalid module.
    v8::TryCatch tc2(s.iso);
    if (v8::WasmModuleObject::Compile(s.iso, {wasm.data(), wasm.size()}).IsEmpty())
      throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", exception_text(s.iso, tc2));
    throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", "WebAssembly.validate rejected the module");
  }

  std::unique_ptr<Module> compile(ByteView wasm, ByteView cached) override {
    Scope s(*holder_);
    v8::TryCatch tc(s.iso);
    if (cached.empty()) {
      Local<v8::WasmModuleObject> m;
      if (!v8::WasmModuleObject::Compile(s.iso, {wasm.data(), wasm.size()}).ToLocal(&m))
        throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", exception_text(s.iso, tc));
      return std::make_unique<V8Module>(holder_, m, false);
    }
    // Cached native code can only be handed to V8 through the streaming compiler.
    StreamingInput in{wasm, cached};
    Local<v8::Function> fn =
        get_object(s.ctx, webassembly(s.ctx), "compileStreaming").As<v8::Function>();
    Local<v8::Value> argv[] = {v8::External::New(s.iso, &in)};
    Local<v8::Value> pv;
    if (!fn->Call(s.ctx, v8::Undefined(s.iso), 1, argv).ToLocal(&pv) || !pv->IsPromise())
      throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", exception_text(s.iso, tc));
    Local<v8::Promise> p = pv.As<v8::Promise>();
    while (p->State() == v8::Promise::kPending) {
      if (!v8::platform::PumpMessageLoop(holder_->platform, s.iso))
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      s.iso->PerformMicrotaskCheckpoint();
    }
    if (p->State() == v8::Promise::kRejected)
      throw Error(ErrorKind::kInvalidInput, "runtime.module.invalid", to_std(s.iso, p->Result()));
    return std::make_unique<V8Module>(holder_, p->Result().As<v8::WasmModuleObject>(),
                                      in.accepted);
  }

  std::unique_ptr<Instance> instantiate(Module& module, const Imports& imports) override {
    auto& m = dynamic_cast<V8Module&>(module);
    if (m.holder() != holder_) throw Error(ErrorKind::kInvalidInput, "runtime.engine", "module from another engine");
    auto inst = std::make_unique<V8Instance>(holder_);
    std::vector<ImportInfo> wanted = m.imports();
    Scope s(*holder_);
    v8::TryCatch tc(s.iso);
    Local<v8::Object> import_obj = v8::Object::New(s.iso);
    for (const auto& imp : wanted) {
      if (imp.kind != "function")
        throw Error(ErrorKind::kInvalidInput, "runtime.instantiate", "unsupported import " + imp.kind + " " + imp.module +
                                               "." + imp.name);
      auto it = imports.functions.find({imp.module, imp.name});
      const HostFunction* f = nullptr;
      if (it != imports.functions.end())
        f = &it->second;
      else if (imports.fallback)
        f = &*imports.fallback;
      else
        throw Error(ErrorKind::kInvalidInput, "runtime.instantiate", "unresolved import " + imp.module + "." + imp.name);
      inst->bindings().push_back({*f, &inst->state()});
      Local<v8::External> data = v8::External::New(s.iso, &inst->bindings().back());
      Local<v8::Function> fn = v8::FunctionTemplate::New(s.iso, trampoline, data)
                                   ->GetFunction(s.ctx)
                                   .ToLocalChecked();
      Local<v8::String> ms = str(s.iso, imp.module);
      Local<v8::Value> ns;
      if (!import_obj->Get(s.ctx, ms).ToLocal(&ns) || !ns->IsObject()) {
        ns = v8::Object::New(s.iso);
        import_obj->Set(s.ctx, ms, ns).Check();
      }
      ns.As<v8::Object>()->Set(s.ctx, str(s.iso, imp.name), fn).Check();
    }
    Local<v8::Function> ctor =
        get_object(s.ctx, webassembly(s.ctx), "Instance").As<v8::Function>();
    Local<v8::Value> argv[] = {m.handle().Get(s.iso), import_obj};
    Local<v8::Object> instance;
    if (!ctor->NewInstance(s.ctx, 2, argv).ToLocal(&instance)) {
      std::string why = inst->state().host_error ? *inst->state().host_error
                                                 : exception_text(s.iso, tc);
      const bool out_of_memory = !inst->state().host_error && tc.HasCaught() && is_range_error(s.ctx, tc.Exception());
      throw Error(out_of_memory ? ErrorKind::kResourceExhausted : ErrorKind::kInvalidInput, "runtime.instantiate", why);
    }
    inst->init(get_object(s.ctx, instance, "exports"));
    return inst;
  }

 private:
  std::shared_ptr<IsolateHolder> holder_;
  bool optimize_ = true;
  bool trap_handler_ = false;
};

}  // namespace
}  // namespace enarx::runtime

// The plugin's only exported symbol (everything else is hidden): see engine.cc.
extern "C" __attribute__((visibility("default"))) enarx::runtime::Engine*
enarx_runtime_make_v8_engine(const enarx::runtime::EngineOptions* options) {
  return new enarx::runtime::V8Engine(*options);
}
