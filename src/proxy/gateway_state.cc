#include "proxy/gateway_state.h"

#include "mask/rules.h"
#include "proxy/tls_context.h"

namespace pgw::proxy {

Result<std::shared_ptr<const GatewayState>> buildGatewayState(
    std::shared_ptr<const config::Config> config) {
  auto state = std::make_shared<GatewayState>();
  if (config->tls.enabled()) {
    auto ctx = makeServerTlsContext(config->tls);
    if (!ctx) return ctx.takeError();
    state->server_tls = std::move(*ctx);
  }
  for (const auto& [name, conn] : config->connections) {
    if (conn.tls.mode == config::SslMode::Disable) continue;
    auto ctx = makeUpstreamTlsContext(conn.tls);
    if (!ctx) {
      Error e = ctx.takeError();
      e.message = "connections." + name + "." + e.message;
      return e;
    }
    state->upstream_tls[name] = std::move(*ctx);
  }
  for (const auto& user : config->users) {
    if (!user.scram_verifier.empty()) {
      auto secret = auth::parseScramSecret(user.scram_verifier);
      if (!secret) {
        return fail("", "identity.users." + user.name + ".scram: " + secret.error().message);
      }
      state->user_secrets[user.name] = std::move(*secret);
    } else {
      state->user_secrets[user.name] = auth::makeScramSecret(user.password.reveal());
    }
  }
  for (size_t i = 0; i < config->policies.size(); ++i) {
    const auto& pol = config->policies[i];
    if (pol.mask.empty()) continue;
    auto rules = mask::compileMaskRules(pol.mask, config->masking.hash_key.reveal(),
                                        "policies[" + std::to_string(i) + "].mask");
    if (!rules) return rules.takeError();
    state->mask_rules[pol.name] =
        std::make_shared<const mask::CompiledMaskRules>(std::move(*rules));
  }
  if (!config->policies.empty()) {
    auto policies = policy::PolicySet::compile(*config);
    if (!policies) return policies.takeError();
    state->policies = std::move(*policies);
  }
  state->decoy_secret = auth::makeScramSecret(auth::randomBytes(16));
  state->config = std::move(config);
  return std::shared_ptr<const GatewayState>(std::move(state));
}

}  // namespace pgw::proxy
