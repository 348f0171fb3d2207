import HookBus
import Hummingbird

/// `POST /api/v1/webhooks/{name}`: external senders, each endpoint authenticated by its own
/// scheme (none, a token, an HMAC signature) rather than by a role.
struct WebhookRoutes {
    let state: ServerState

    func register<Routes: RouterMethods>(on routes: Routes) where Routes.Context == HookBusRequestContext {
        let toEvent = RequestToEvent(state: state)
        routes.post(":name") { request, context -> Response in
            let (event, key) = try await toEvent.webhookEvent(request, name: context.parameters.get("name") ?? "", route: context.endpointPath ?? "/api/v1/webhooks/{name}")
            return try await accept(event, key: key, request: request, state: state)
        }
    }
}
