//! saker: the userspace agent. Data flows kernel → capture → state → rules → alerts → outputs/store/api.
