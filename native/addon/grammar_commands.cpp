// EngineWrap methods for constrained decoding: the model's vocabulary for llguidance, and
// grammars compiled on the JS thread (so a grammar the engine cannot handle is refused before
// any work is queued).
#include "engine/errors.h"
#include "engine_wrap.h"
#include "errors.h"
#include "requests.h"

namespace mlxn {

namespace {

void finalize_grammar(Napi::Env, std::shared_ptr<const Grammar>* grammar) {
  delete grammar;
}

}  // namespace

const napi_type_tag kGrammarTag = {0x6d6c786e2d67726dULL, 0x616d6d61722d7631ULL};

namespace {}  // namespace

// setGrammarVocab(bytes: Uint8Array, offsets: Uint32Array, eos: Int32Array)
Napi::Value EngineWrap::set_grammar_vocab(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (!info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
      !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_js(env, "INVALID_ARGUMENT",
             "setGrammarVocab(bytes: Uint8Array, offsets: Uint32Array, eos: Int32Array)");
  auto bytes = info[0].As<Napi::Uint8Array>();
  auto offsets = info[1].As<Napi::Uint32Array>();
  auto eos = info[2].As<Napi::Int32Array>();
  try {
    vocab_ = std::make_shared<GrammarVocab>(
        std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.ElementLength()),
        std::vector<uint32_t>(offsets.Data(), offsets.Data() + offsets.ElementLength()),
        std::vector<int32_t>(eos.Data(), eos.Data() + eos.ElementLength()));
  } catch (const EngineError& e) {
    throw_js(env, e.code().c_str(), e.what());
  }
  return env.Undefined();
}

// compileGrammar(kind, text) → an opaque grammar for generate()'s `grammar` field.
Napi::Value EngineWrap::compile_grammar(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (!info[0].IsString() || !info[1].IsString())
    throw_js(env, "INVALID_ARGUMENT", "compileGrammar(kind, text)");
  if (!vocab_) throw_js(env, "INVALID_ARGUMENT", "[grammar] no vocabulary was set for this model");
  try {
    auto grammar = std::make_shared<const Grammar>(vocab_, info[0].As<Napi::String>().Utf8Value(),
                                                   info[1].As<Napi::String>().Utf8Value());
    auto external = Napi::External<std::shared_ptr<const Grammar>>::New(
        env, new std::shared_ptr<const Grammar>(std::move(grammar)), finalize_grammar);
    external.TypeTag(&kGrammarTag);
    return external;
  } catch (const EngineError& e) {
    throw_js(env, e.code().c_str(), e.what());
  }
  return env.Undefined();
}

}  // namespace mlxn
