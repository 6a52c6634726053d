"""The generic training engine: knows nothing about colour, experiments or the command line.

    model + task (engine.task.Task) + datasets + EngineConfig -> *engine.trainer.Trainer.fit()*
        -> run folder (checkpoint.safetensors, model/best.safetensors, log.csv, loss.png)

Modules: config (EngineConfig), task (the Task protocol), trainer (the loop), steps (device,
AMP, loaders, one step), state (resumable state, summary, Ctrl-C), optim (optimisers,
schedules, seeding), distributed (DDP data order and agreement), checkpoint (pickle-free
safetensors), callbacks (log.csv, loss.png, TensorBoard), plots (loss.png), files (atomic
writes), device (device resolution). Imports nothing of colorclass outside this package.
"""
