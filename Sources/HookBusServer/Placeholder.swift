import HookBus
public enum ServerPlaceholder {}
