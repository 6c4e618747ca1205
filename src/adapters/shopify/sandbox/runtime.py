"""The parts of one running sandbox, kept in ``app.extensions["sandbox"]``."""

from __future__ import annotations

import random

from attrs import define
from flask import current_app

from adapters.shopify.sandbox.commerce import Commerce
from adapters.shopify.sandbox.config import SandboxConfig
from adapters.shopify.sandbox.graphql_api import GraphQLService
from adapters.shopify.sandbox.oauth import TokenService
from adapters.shopify.sandbox.state import SandboxState
from adapters.shopify.sandbox.webhooks import WebhookDispatcher

__all__ = ["SandboxRuntime", "current_runtime"]


@define
class SandboxRuntime:
    config: SandboxConfig
    state: SandboxState
    commerce: Commerce
    tokens: TokenService
    graphql: GraphQLService
    dispatcher: WebhookDispatcher
    rng: random.Random

    @classmethod
    def build(cls, state: SandboxState, config: SandboxConfig) -> SandboxRuntime:
        rng = random.Random(config.random_seed)  # noqa: S311 - fault injection, not security
        commerce = Commerce(state, config)
        seed = None if config.random_seed is None else config.random_seed + 1
        dispatcher = WebhookDispatcher(state, config, seed=seed)
        state.add_sink(dispatcher.enqueue)
        return cls(
            config=config,
            state=state,
            commerce=commerce,
            tokens=TokenService(state, config),
            graphql=GraphQLService(state, config, commerce, rng),
            dispatcher=dispatcher,
            rng=rng,
        )

    def reset(self) -> None:
        self.state.reset()
        self.dispatcher.reset()
        self.graphql.bulk.reset()
        self.reseed(self.config.random_seed)

    def reseed(self, seed: int | None) -> None:
        self.rng.seed(seed)
        self.dispatcher.reseed(None if seed is None else seed + 1)

    def close(self) -> None:
        self.state.remove_sink(self.dispatcher.enqueue)
        self.graphql.bulk.close()
        self.dispatcher.close()


def current_runtime() -> SandboxRuntime:
    runtime = current_app.extensions["sandbox"]
    if not isinstance(runtime, SandboxRuntime):  # pragma: no cover - set by the factory
        raise TypeError("not a sandbox app")
    return runtime
