"""The `learning-analytics` command."""

from __future__ import annotations

import asyncio
import csv
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from learning_analytics.application.gamification import AwardPoints
from learning_analytics.application.predictive_model import ModelCard
from learning_analytics.application.sync import SourceReport, SyncSources
from learning_analytics.config import ConfigurationError, Settings, get_settings
from learning_analytics.domain.gamification.rules import RuleTable
from learning_analytics.domain.metrics.learner import LearnerHistory
from learning_analytics.domain.predictive.features import training_examples
from learning_analytics.infrastructure.cache.redis import RedisResponseCache
from learning_analytics.infrastructure.db import activity_days
from learning_analytics.infrastructure.db import migrate as migrations
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.gamification import SqlGamificationRepository
from learning_analytics.infrastructure.db.repositories import (
    SqlRecordWriter,
    SqlSyncStateRepository,
)
from learning_analytics.infrastructure.educore.signing import generate_key_pair
from learning_analytics.infrastructure.importing import ImportReport, import_directory
from learning_analytics.infrastructure.predictive.model import (
    DEFAULT_MODEL_DIR,
    Evaluation,
    TrainingError,
    read_card,
    save_model,
    train_and_evaluate,
)
from learning_analytics.infrastructure.predictive.training import store_histories
from learning_analytics.presentation.app import create_app
from learning_analytics.presentation.observability import configure_logging
from learning_analytics.presentation.state import SystemClock
from learning_analytics.presentation.transport import build_transport
from learning_analytics.simulator.app import create_simulator_app
from learning_analytics.simulator.coordinator import CoordinatorConfig
from learning_analytics.simulator.histories import population_histories
from learning_analytics.simulator.population import Population, demo_logins, generate_population

app = typer.Typer(help="Learning Analytics: analytics API for a corporate learning platform.")
console = Console(stderr=True)

HostOption = Annotated[str, typer.Option(help="Interface to bind")]


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    return settings


def _server(asgi_app: object, *, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        asgi_app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Serve the API with configuration from the environment."""
    settings = _settings()
    try:
        api = create_app(settings)
    except ConfigurationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc
    asyncio.run(_server(api, host=host, port=port).serve())


@app.command()
def migrate() -> None:
    """Apply the database migrations (DATABASE_URL) up to the newest."""
    settings = _settings()
    asyncio.run(migrations.upgrade(settings.database_url, schema=settings.database_schema))
    console.print("[green]database is at the newest migration[/green]")


@app.command("rebuild-rollup")
def rebuild_rollup() -> None:
    """Recompute the per-learner day rollup the organisation figures read (`activity_days`)
    from the activity tables. The writer keeps it exact; run this after loading activity rows
    by other means (bulk COPY, restored dumps). On PostgreSQL it then rebuilds the rollups'
    indexes (concurrently) and vacuums them: the rebuild leaves them several times their size."""
    asyncio.run(_rebuild_rollup(_settings()))


async def _rebuild_rollup(settings: Settings) -> None:
    await migrations.upgrade(settings.database_url, schema=settings.database_schema)
    engine = create_engine(settings.database_url, connect_args=settings.database_connect_args)
    try:
        learners = await activity_days.rebuild(create_session_factory(engine))
        # Committed: said before the index rebuild, which waits for every older transaction.
        console.print(f"[green]activity_days recomputed for {learners} learners[/green]")
        if await activity_days.compact(engine):
            console.print("[green]rollup indexes rebuilt and vacuumed[/green]")
    finally:
        await engine.dispose()


@app.command()
def sync() -> None:
    """Pull every configured upstream into the store once (incremental; exit 1 if a source
    failed, after the others finished). `UPSTREAM_TRANSPORT=educore` pulls through the
    Coordinator (`COORDINATOR_URL`) instead of the upstreams' own base URLs."""
    settings = _settings()
    try:
        reports = asyncio.run(_sync(settings))
    except ConfigurationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc
    if not reports:
        console.print("[yellow]no upstream is configured (set DIRECTORY_URL, ...)[/yellow]")
        raise typer.Exit(code=2)
    if not all(report.ok for report in reports):
        raise typer.Exit(code=1)


async def _sync(settings: Settings) -> list[SourceReport]:
    engine = create_engine(settings.database_url, connect_args=settings.database_connect_args)
    sessions = create_session_factory(engine)
    cache = (
        RedisResponseCache.from_url(settings.redis_url, prefix=settings.redis_key_prefix)
        if settings.redis_url
        else None
    )
    try:
        transport = build_transport(
            settings,
            clock=SystemClock(),
            total_timeout=max(settings.upstream_timeout_seconds, 5.0),
        )
    except ConfigurationError:
        if cache is not None:
            await cache.close()
        await engine.dispose()
        raise
    registry = transport.registry
    try:
        sources = transport.sources
        if not sources:
            return []
        use_case = SyncSources(
            sources=sources,
            writer=SqlRecordWriter(sessions),
            state=SqlSyncStateRepository(sessions),
            clock=SystemClock(),
            cache=cache,
            concurrency=transport.concurrency,
            after_write=AwardPoints(
                store=SqlGamificationRepository(sessions),
                rules=RuleTable.with_overrides(settings.gamification_rules),
                cache=cache,
            ).since,
        )
        with Progress(
            TextColumn("[bold]sync[/bold] {task.description:<34}"),
            BarColumn(),
            TextColumn("{task.completed:>9} rows"),
            console=console,
        ) as bar:
            tasks = {source.name: bar.add_task(source.name, total=None) for source in sources}

            def advance(source: str, rows: int) -> None:
                bar.update(tasks[source], advance=rows)

            reports = await use_case.execute(progress=advance)
    finally:
        await registry.close()
        if cache is not None:
            await cache.close()
        await engine.dispose()
    _print_sync_summary(reports)
    return reports


def _print_sync_summary(reports: list[SourceReport]) -> None:
    table = Table(title="Sync")
    for column in ("source", "status", "pages", "rows", "seconds", "error"):
        table.add_column(
            column, justify="right" if column in {"pages", "rows", "seconds"} else "left"
        )
    for report in reports:
        table.add_row(
            report.source,
            "[green]ok[/green]" if report.ok else "[red]failed[/red]",
            str(report.pages),
            str(report.rows),
            f"{report.seconds:.2f}",
            report.error or "",
        )
    console.print(table)
    total = sum(report.rows for report in reports)
    failed = [report.source for report in reports if not report.ok]
    console.print(
        f"{total} rows written"
        + (f"; failed: {', '.join(failed)} (retried next round)" if failed else "")
    )


@app.command()
def simulate(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the simulated platform")] = 8100,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population")] = 7,
    learners: Annotated[int, typer.Option(min=1, help="Number of learners")] = 200,
    history_days: Annotated[int, typer.Option(min=7, help="Days of history")] = 120,
    password: Annotated[str, typer.Option(help="Password of every simulated user")] = "demo",
    caller_key: Annotated[
        Path | None,
        typer.Option(
            help="Coordinator: our public key (PEM file); envelopes must then be signed with "
            "its private half as --caller-name",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    caller_name: Annotated[
        str, typer.Option(help="Coordinator: the service name --caller-key belongs to")
    ] = "learning-analytics-service",
    coordinator_key: Annotated[
        Path | None,
        typer.Option(
            help="Coordinator: its private key (PEM file), to sign its replies",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    directory_token: Annotated[
        str | None, typer.Option(help="Coordinator: the admin token Directory demands")
    ] = None,
) -> None:
    """Serve the simulated platform on one port: the upstream services ("rest" transport) and
    the fake EDUCORE Coordinator at /coordinator ("educore" transport)."""
    _settings()
    population = _generate(
        seed=seed, learners=learners, history_days=history_days, password=password
    )
    coordinator = CoordinatorConfig(
        caller_keys={caller_name: caller_key.read_text()} if caller_key else {},
        signing_key=coordinator_key.read_text() if coordinator_key else None,
        directory_token=directory_token,
    )
    console.print(f"COORDINATOR_URL=http://{host}:{port}/coordinator")
    simulator = create_simulator_app(population, coordinator=coordinator)
    asyncio.run(_server(simulator, host=host, port=port).serve())


@app.command()
def demo(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API")] = 8000,
    simulator_port: Annotated[int, typer.Option(help="Port of the simulated platform")] = 8100,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population")] = 7,
    learners: Annotated[int, typer.Option(min=1, help="Number of learners")] = 200,
) -> None:
    """What `make run` does: migrate, fill the store from the simulated platform, start the
    simulator and the API, and print the demo logins."""
    settings = _settings()
    if settings.is_production:
        console.print("[red]`demo` is for demo mode only (APP_ENV=demo)[/red]")
        raise typer.Exit(code=2)
    asyncio.run(
        _demo(settings, host=host, port=port, sim_port=simulator_port, seed=seed, learners=learners)
    )


def _generate(*, seed: int, learners: int, history_days: int, password: str) -> Population:
    with console.status(f"generating {learners} simulated learners (seed {seed})"):
        return generate_population(
            seed=seed,
            learners=learners,
            history_days=history_days,
            anchor=datetime.now(UTC),
            password=password,
        )


async def _demo(
    settings: Settings, *, host: str, port: int, sim_port: int, seed: int, learners: int
) -> None:
    await migrations.upgrade(settings.database_url, schema=settings.database_schema)
    population = _generate(seed=seed, learners=learners, history_days=120, password="demo")
    sim_url = f"http://{host}:{sim_port}"
    educore, coordinator = _demo_educore(settings, sim_url=sim_url)
    simulator = _server(
        create_simulator_app(population, coordinator=coordinator), host=host, port=sim_port
    )
    simulator_task = asyncio.create_task(simulator.serve())
    while not simulator.started and not simulator_task.done():
        await asyncio.sleep(0.05)
    # The demo is an EDUCORE platform of its own: every upstream URL points into the simulator
    # (unless set explicitly), and the store is filled the way production fills it: by sync.
    simulated = {
        "auth_service_url": f"{sim_url}/auth",
        "directory_url": f"{sim_url}/directory",
        "course_builder_url": f"{sim_url}/course-builder",
        "content_studio_url": f"{sim_url}/content-studio",
        "assessment_url": f"{sim_url}/assessment",
        "skills_engine_url": f"{sim_url}/skills-engine",
        "learner_ai_url": f"{sim_url}/learner-ai",
        "devlab_url": f"{sim_url}/devlab",
        "rag_url": f"{sim_url}/rag",
    }
    api_settings = settings.model_copy(
        update={name: getattr(settings, name) or url for name, url in simulated.items()} | educore
    )
    try:
        await _sync(api_settings)
        await _award_everyone(api_settings)
        _print_logins(population, api_url=f"http://{host}:{port}", sim_url=sim_url)
        await _server(create_app(api_settings), host=host, port=port).serve()
    finally:
        simulator.should_exit = True
        await simulator_task


def _demo_educore(settings: Settings, *, sim_url: str) -> tuple[dict[str, str], CoordinatorConfig]:
    """With UPSTREAM_TRANSPORT=educore: fresh keys both ways between us and the simulator's
    fake Coordinator, and Directory's admin token, as a real deployment configures them."""
    if settings.upstream_transport.strip().lower() != "educore":
        return {}, CoordinatorConfig()
    ours_private, ours_public = generate_key_pair()
    coordinator_private, coordinator_public = generate_key_pair()
    token = secrets.token_urlsafe(24)
    config = CoordinatorConfig(
        caller_keys={settings.educore_service_name: ours_public},
        signing_key=coordinator_private,
        directory_token=token,
    )
    return {
        "coordinator_url": f"{sim_url}/coordinator",
        "educore_private_key": ours_private,
        "coordinator_public_key": coordinator_public,
        "educore_directory_token": token,
    }, config


async def _award_everyone(settings: Settings) -> None:
    """Points for every learner in the store (a full replay adds only what is missing), so a
    demo store synced before gamification existed gets its ledger too."""
    engine = create_engine(settings.database_url, connect_args=settings.database_connect_args)
    try:
        store = SqlGamificationRepository(create_session_factory(engine))
        rules = RuleTable.with_overrides(settings.gamification_rules)
        report = await AwardPoints(store=store, rules=rules).replay()
    finally:
        await engine.dispose()
    console.print(f"points: {report.added} new awards for {report.users} users")


def _print_logins(population: Population, *, api_url: str, sim_url: str) -> None:
    table = Table(title="Demo logins (password: demo)")
    table.add_column("role")
    table.add_column("email")
    table.add_column("user id")
    for label, email in demo_logins(population).items():
        user = population.user_by_email(email)
        table.add_row(label, email, user.id if user else "")
    console.print(table)
    console.print(f"API: {api_url}   docs: {api_url}/docs   simulated platform: {sim_url}")
    console.print(
        f"try: curl -s -X POST {api_url}/api/v1/auth/login -H 'content-type: application/json' "
        """-d '{"email":"learner@org1.example","password":"demo"}'"""
    )


# --------------------------------------------------------------------------------------------
# Predictive model (SPEC §10): train and evaluate from the store, or from a simulated population

model_app = typer.Typer(help="Train and evaluate the drop-off model (SPEC §10 Predictive).")
app.add_typer(model_app, name="model")

SimulatedOption = Annotated[
    bool,
    typer.Option(
        "--simulated",
        help="Use a freshly simulated population instead of the store (how the shipped "
        "default model is trained)",
    ),
]
SeedOption = Annotated[int, typer.Option(help="--simulated: seed of the population")]
LearnersOption = Annotated[int, typer.Option(min=1, help="--simulated: number of learners")]
DaysOption = Annotated[int, typer.Option(min=60, help="--simulated: days of history")]


def _training_run(*, simulated: bool, seed: int, learners: int, history_days: int) -> Evaluation:
    settings = _settings()
    days = settings.predictive_inactivity_days
    now = datetime.now(UTC)
    archetypes: dict[str, str] | None = None
    if simulated:
        population = _generate(
            seed=seed, learners=learners, history_days=history_days, password="demo"
        )
        pairs = list(population_histories(population))
        histories = [history for history, _ in pairs]
        archetypes = {history.user_id: archetype for history, archetype in pairs if archetype}
        data_end: datetime | None = population.anchor
        trained_on = "simulator"
        description = (
            f"Default model trained on the simulator's population (seed {seed}, {learners} "
            f"learners, {history_days} days); simulated data, not any customer's"
        )
    else:
        histories, data_end = asyncio.run(_store_histories(settings))
        trained_on = "store"
        description = "Trained on the learning record store"
    if data_end is None:
        console.print("[red]no activity in the data: nothing to train on[/red]")
        raise typer.Exit(code=1)
    with console.status("building weekly snapshots and training"):
        examples = training_examples(histories, data_end=data_end, inactivity_days=days)
        try:
            return train_and_evaluate(
                examples,
                inactivity_days=days,
                trained_on=trained_on,
                description=description,
                created_at=now,
                archetypes=archetypes,
            )
        except TrainingError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(code=1) from exc


async def _store_histories(settings: Settings) -> tuple[list[LearnerHistory], datetime | None]:
    engine = create_engine(settings.database_url, connect_args=settings.database_connect_args)
    try:
        return await store_histories(create_session_factory(engine))
    finally:
        await engine.dispose()


def _print_card(card: ModelCard, *, min_auc: float) -> None:
    passed = card.passes(min_auc)
    table = Table(title=f"Model card {card.version} ({card.trained_on})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("AUC (time-split test)", f"{card.auc:.4f}"),
        ("PR-AUC", f"{card.pr_auc:.4f}"),
        ("Brier score", f"{card.brier:.4f}"),
        ("baseline AUC (logistic regression)", f"{card.baseline_auc}"),
        ("train / test snapshots", f"{card.train_size} / {card.test_size}"),
        ("test drop-off rate", f"{card.test_drop_off_rate:.3f}"),
        ("served model fitted on", f"{card.training_size} snapshots"),
        ("data window", f"{card.data_from:%Y-%m-%d} .. {card.data_to:%Y-%m-%d}"),
        ("quality gate", f"AUC >= {min_auc}: {'passed' if passed else 'FAILED (rules serve)'}"),
    ]
    rows += [(f"AUC {name}", f"{auc}") for name, auc in card.per_archetype_auc.items()]
    rows += [
        (f"AUC week {row['week']}", f"{row['auc']} (n={row['count']})") for row in card.per_week_auc
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    calibration = Table(title="Calibration (test part)")
    for column in ("predicted", "observed", "count"):
        calibration.add_column(column, justify="right")
    for row in card.calibration:
        calibration.add_row(
            f"{row['meanPredicted']:.3f}", f"{row['observedRate']:.3f}", str(row["count"])
        )
    console.print(calibration)


@model_app.command("train")
def model_train(
    output: Annotated[
        Path | None,
        typer.Option(help="Directory for the artifact and card (default: PREDICTIVE_MODEL_DIR)"),
    ] = None,
    simulated: SimulatedOption = False,
    seed: SeedOption = 7,
    learners: LearnersOption = 600,
    history_days: DaysOption = 240,
) -> None:
    """Evaluate on a time split, refit on everything, and write the model with its card."""
    settings = _settings()
    target = output or (
        Path(settings.predictive_model_dir) if settings.predictive_model_dir else None
    )
    if target is None:
        console.print("[red]give --output or set PREDICTIVE_MODEL_DIR[/red]")
        raise typer.Exit(code=2)
    evaluation = _training_run(
        simulated=simulated, seed=seed, learners=learners, history_days=history_days
    )
    card = save_model(evaluation, target)
    _print_card(card, min_auc=settings.predictive_min_auc)
    console.print(f"[green]model written to {target}[/green]")


@model_app.command("evaluate")
def model_evaluate(
    installed: Annotated[
        bool, typer.Option("--installed", help="Print the card of the model the API loads")
    ] = False,
    simulated: SimulatedOption = False,
    seed: SeedOption = 7,
    learners: LearnersOption = 600,
    history_days: DaysOption = 240,
) -> None:
    """Run the time-split evaluation on the data and print the card (nothing is written)."""
    settings = _settings()
    if installed:
        path = Path(settings.predictive_model_dir) if settings.predictive_model_dir else None
        card = read_card(path or DEFAULT_MODEL_DIR)
    else:
        card = _training_run(
            simulated=simulated, seed=seed, learners=learners, history_days=history_days
        ).card
    _print_card(card, min_auc=settings.predictive_min_auc)


# --------------------------------------------------------------------------------------------
# Import of history from CSV files (docs/import.md)

SHOWN_BAD_ROWS = 50


@app.command("import")
def import_history(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True, file_okay=False, dir_okay=True, help="Directory of canonical CSV files"
        ),
    ],
    report: Annotated[
        Path | None, typer.Option(help="Also write every bad row to this CSV file")
    ] = None,
) -> None:
    """Import historical activity from CSV files (docs/import.md), idempotently. Bad rows are
    reported with their line numbers and skipped; exit code 1 when there were any."""
    settings = _settings()
    result = asyncio.run(_import(settings, path))
    summary = Table(title=f"Import of {path.name}")
    for column in ("file", "rows", "imported", "bad"):
        summary.add_column(column, justify="left" if column == "file" else "right")
    for item in result.files:
        summary.add_row(item.file, str(item.rows), str(item.imported), str(len(item.bad)))
    console.print(summary)
    bad = result.bad_rows
    if bad:
        table = Table(title=f"Bad rows (skipped): {len(bad)}")
        for column in ("file", "line", "reason"):
            table.add_column(column)
        for row in bad[:SHOWN_BAD_ROWS]:
            table.add_row(row.file, str(row.line), row.reason)
        console.print(table)
        if len(bad) > SHOWN_BAD_ROWS:
            console.print(f"... and {len(bad) - SHOWN_BAD_ROWS} more")
    if report is not None:
        with report.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "line", "reason"])
            writer.writerows((row.file, row.line, row.reason) for row in bad)
    if bad:
        raise typer.Exit(code=1)


async def _import(settings: Settings, path: Path) -> ImportReport:
    await migrations.upgrade(settings.database_url, schema=settings.database_schema)
    engine = create_engine(settings.database_url, connect_args=settings.database_connect_args)
    try:
        with Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            TextColumn("{task.completed:>8}/{task.total}"),
            console=console,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def advance(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=total)
                bar.update(tasks[name], completed=done)

            return await import_directory(
                path,
                create_session_factory(engine),
                ingested_at=datetime.now(UTC),
                progress=advance,
            )
    finally:
        await engine.dispose()


def main() -> None:
    app()
