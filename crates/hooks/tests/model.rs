//! Run order against a model: after any sequence of registrations, removals and enable flips, a
//! run calls exactly the enabled hooks, sorted by priority, ties in registration order.

use proptest::prelude::*;
use stanchion_hooks::{Action, HookExecutor, HookOptions, HookRegistry, Mode, PointConfig};

#[derive(Debug, Clone)]
enum Op {
    Register { name: u8, priority: i8 },
    Unregister { name: u8 },
    Enable { name: u8, enabled: bool },
}

fn op() -> impl Strategy<Value = Op> {
    // Few names and priorities, so duplicates, ties and removals of present hooks are common.
    prop_oneof![
        4 => (0..12u8, -3..3i8).prop_map(|(name, priority)| Op::Register { name, priority }),
        1 => (0..12u8).prop_map(|name| Op::Unregister { name }),
        1 => (0..12u8, any::<bool>()).prop_map(|(name, enabled)| Op::Enable { name, enabled }),
    ]
}

/// The model: hooks in registration order.
#[derive(Default)]
struct Model {
    hooks: Vec<(String, i8, bool)>,
}

impl Model {
    fn order(&self) -> Vec<String> {
        let mut enabled: Vec<_> = self.hooks.iter().filter(|(_, _, on)| *on).collect();
        enabled.sort_by_key(|(_, priority, _)| *priority); // stable: ties keep registration order
        enabled
            .into_iter()
            .map(|(name, _, _)| name.clone())
            .collect()
    }
}

fn check(mode: Mode, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let registry = HookRegistry::<Vec<String>>::new();
    registry.configure_point(
        "p",
        PointConfig::new()
            .mode(mode)
            .merge(|all: &mut Vec<String>, mine| all.extend(mine)),
    );
    let executor = HookExecutor::new(registry.clone());
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Register { name, priority } => {
                let name = format!("h{name}");
                let known = model.hooks.iter().any(|(n, _, _)| *n == name);
                let hook_name = name.clone();
                let registered = registry.register_fn(
                    "p",
                    move |_| Ok(Action::Modify(vec![hook_name.clone()])),
                    HookOptions {
                        priority: priority.into(),
                        ..HookOptions::new(name.as_str())
                    },
                );
                prop_assert_eq!(registered.is_err(), known, "duplicates are refused");
                if !known {
                    model.hooks.push((name, priority, true));
                }
            }
            Op::Unregister { name } => {
                let name = format!("h{name}");
                let before = model.hooks.len();
                model.hooks.retain(|(n, _, _)| *n != name);
                prop_assert_eq!(registry.unregister("p", &name), model.hooks.len() < before);
            }
            Op::Enable { name, enabled } => {
                let name = format!("h{name}");
                let hook = model.hooks.iter_mut().find(|(n, _, _)| *n == name);
                let known = hook.is_some();
                if let Some(hook) = hook {
                    hook.2 = enabled;
                }
                prop_assert_eq!(registry.set_hook_enabled("p", &name, enabled), known);
            }
        }
        let report = runtime.block_on(executor.run("p", Vec::new())).unwrap();
        let called: Vec<String> = report
            .hooks
            .iter()
            .map(|run| run.name.to_string())
            .collect();
        let expected = model.order();
        prop_assert_eq!(&called, &expected);
        // Sequential: the last hook's modification; parallel: all of them, merged in order.
        let context = match mode {
            Mode::Parallel => expected,
            _ => expected.last().cloned().into_iter().collect(),
        };
        prop_assert_eq!(report.context, context);
    }
    Ok(())
}

proptest! {
    #[test]
    fn sequential_runs_follow_the_sorted_model(ops in prop::collection::vec(op(), 1..40)) {
        check(Mode::Sequential, ops)?;
    }

    #[test]
    fn parallel_runs_follow_the_sorted_model(ops in prop::collection::vec(op(), 1..40)) {
        check(Mode::Parallel, ops)?;
    }
}
