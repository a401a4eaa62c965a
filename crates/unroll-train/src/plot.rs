//! `curves.png` in a run folder: the training loss per step (with a moving average and the epoch
//! means) and the validation PSNR per epoch of the model, its input Aᴴy and the classical baseline,
//! drawn from `train_log.csv` and `validation.csv` (see [`crate::logs`]). The text is set in an
//! embedded subset of DejaVu Sans (`assets/`), so no font is looked up at run time.

use std::error::Error;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::error::TrainError;

/// The image size, pixels.
const WIDTH: u32 = 1400;
const HEIGHT: u32 = 560;
/// The family the font is registered under: plotters' default for axis labels and legends.
const FONT: &str = "sans-serif";
const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
static FONT_REGISTERED: OnceLock<bool> = OnceLock::new();

const LOSS: RGBColor = RGBColor(166, 206, 227);
const LOSS_MEAN: RGBColor = RGBColor(31, 120, 180);
const EPOCH_LOSS: RGBColor = RGBColor(255, 127, 0);
const MODEL: RGBColor = RGBColor(227, 26, 28);
const INPUT: RGBColor = RGBColor(128, 128, 128);
const BASELINE: RGBColor = RGBColor(51, 160, 44);

/// Writes `curves.png` in `run_dir` (atomically) from its `train_log.csv` and `validation.csv`;
/// returns its path. Non-finite values are skipped; a panel without values says so.
pub fn plot_run(run_dir: &Path) -> Result<PathBuf, TrainError> {
    let steps = Csv::read(&run_dir.join("train_log.csv"))?;
    let validations = Csv::read(&run_dir.join("validation.csv"))?;
    let loss = steps.points("step", "loss")?;
    let window = (loss.len() / 25).clamp(2, 100);
    let mean = (loss.len() >= 10)
        .then(|| Series::new(&format!("mean of {window} steps"), LOSS_MEAN, moving_average(&loss, window), 2, 0));
    // Dots too while there are few steps, so that a single one shows.
    let dots = if loss.len() < 50 { 2 } else { 0 };
    let epoch_loss = Series::new("epoch mean", EPOCH_LOSS, validations.points("step", "train_loss")?, 0, 4);
    let loss_series = [Some(Series::new("loss", LOSS, loss, 1, dots)), mean, Some(epoch_loss)];
    let names = validations.column::<String>("baseline")?;
    let baseline = names.iter().flatten().rev().find(|n| !n.is_empty()).map_or("baseline", String::as_str);
    let psnr_series =
        [("model", "psnr", MODEL), ("input Aᴴy", "input_psnr", INPUT), (baseline, "baseline_psnr", BASELINE)]
            .into_iter()
            .map(|(label, column, color)| Ok(Series::new(label, color, validations.points("epoch", column)?, 2, 3)))
            .collect::<Result<_, TrainError>>()?;
    let panels = [
        Panel {
            title: "training loss",
            x: "step",
            y: "loss",
            log: true,
            legend: SeriesLabelPosition::UpperRight,
            series: loss_series.into_iter().flatten().collect(),
        },
        Panel {
            title: "validation PSNR",
            x: "epoch",
            y: "PSNR (dB)",
            log: false,
            legend: SeriesLabelPosition::LowerRight,
            series: psnr_series,
        },
    ];
    if panels.iter().all(|p| p.series.iter().all(|s| s.points.is_empty())) {
        return Err(TrainError::file(&steps.path, "nothing to plot: no finite values in it or in validation.csv"));
    }
    let path = run_dir.join("curves.png");
    let png = render(&panels).map_err(|e| TrainError::file(&path, format!("cannot draw: {e}")))?;
    crate::files::write_atomic(&path, &png)?;
    Ok(path)
}

/// A panel of [`plot_curves`]: its title, axis labels and labelled curves.
pub(crate) struct Curves {
    pub title: &'static str,
    pub x: &'static str,
    pub y: &'static str,
    pub series: Vec<(String, Vec<(i64, f64)>)>,
}

/// The panels side by side (each curve a line with dots while it has few points), written
/// (atomically) to `path` as PNG.
pub(crate) fn plot_curves(path: &Path, panels: Vec<Curves>) -> Result<(), TrainError> {
    const PALETTE: [RGBColor; 8] = [
        MODEL,
        BASELINE,
        INPUT,
        LOSS_MEAN,
        EPOCH_LOSS,
        RGBColor(106, 61, 154),
        RGBColor(177, 89, 40),
        RGBColor(0, 0, 0),
    ];
    let panels: Vec<Panel> = panels
        .into_iter()
        .map(|curves| Panel {
            title: curves.title,
            x: curves.x,
            y: curves.y,
            log: false,
            legend: SeriesLabelPosition::UpperLeft,
            series: curves
                .series
                .into_iter()
                .zip(PALETTE.iter().cycle())
                .map(|((label, points), &color)| {
                    let dots = if points.len() < 50 { 4 } else { 0 };
                    Series::new(&label, color, points, 2, dots)
                })
                .collect(),
        })
        .collect();
    let png = render(&panels).map_err(|e| TrainError::file(path, format!("cannot draw: {e}")))?;
    crate::files::write_atomic(path, &png)
}

/// A CSV file whose columns are found by their header name.
struct Csv {
    path: PathBuf,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn read(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::file(path, format!("cannot read: {e}")))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let split = |line: &str| line.split(',').map(|v| v.trim().to_string()).collect::<Vec<_>>();
        let header = split(lines.next().ok_or_else(|| TrainError::file(path, "empty file: no header"))?);
        Ok(Self { path: path.to_path_buf(), header, rows: lines.map(split).collect() })
    }

    /// The column named `name`, `None` where a value is missing or does not parse.
    fn column<T: FromStr>(&self, name: &str) -> Result<Vec<Option<T>>, TrainError> {
        let i = self
            .header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| TrainError::file(&self.path, format!("no column `{name}` in the header")))?;
        Ok(self.rows.iter().map(|row| row.get(i).and_then(|v| v.parse().ok())).collect())
    }

    /// The `(x, y)` pairs of two columns where both are present and `y` is finite.
    fn points(&self, x: &str, y: &str) -> Result<Vec<(i64, f64)>, TrainError> {
        let (xs, ys) = (self.column::<i64>(x)?, self.column::<f64>(y)?);
        Ok(xs.into_iter().zip(ys).filter_map(|(x, y)| Some((x?, y?))).filter(|(_, y)| y.is_finite()).collect())
    }
}

/// The mean of each point's trailing `window` values (fewer at the start).
fn moving_average(points: &[(i64, f64)], window: usize) -> Vec<(i64, f64)> {
    (0..points.len())
        .map(|i| {
            let span = &points[(i + 1).saturating_sub(window)..=i];
            (points[i].0, span.iter().map(|p| p.1).sum::<f64>() / span.len() as f64)
        })
        .collect()
}

/// One curve: a line `line` pixels wide (none if 0) through dots of radius `dots` (none if 0).
struct Series {
    label: String,
    color: RGBColor,
    points: Vec<(i64, f64)>,
    line: u32,
    dots: u32,
}

impl Series {
    fn new(label: &str, color: RGBColor, points: Vec<(i64, f64)>, line: u32, dots: u32) -> Self {
        Self { label: label.to_string(), color, points, line, dots }
    }
}

/// One chart: its texts, whether its y axis is logarithmic when every value is positive, its curves.
struct Panel {
    title: &'static str,
    x: &'static str,
    y: &'static str,
    log: bool,
    legend: SeriesLabelPosition,
    series: Vec<Series>,
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// The panels side by side, as PNG bytes.
fn render(panels: &[Panel]) -> Result<Vec<u8>, Box<dyn Error>> {
    if !*FONT_REGISTERED.get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()) {
        return Err("the embedded font does not parse".into());
    }
    let mut pixels = vec![0; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
            draw_panel(area, panel)?;
        }
        root.present()?;
    }
    let image = image::RgbImage::from_raw(WIDTH, HEIGHT, pixels).ok_or("pixel buffer of the wrong size")?;
    let mut png = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(png)
}

/// Draws `panel` in `area`, or a note if it has no values.
fn draw_panel(area: &Area, panel: &Panel) -> Result<(), Box<dyn Error>> {
    let points = || panel.series.iter().flat_map(|s| &s.points);
    let (Some(x0), Some(x1)) = (points().map(|p| p.0).min(), points().map(|p| p.0).max()) else {
        let area = area.margin(15, 15, 15, 15).titled(panel.title, (FONT, 22))?;
        area.draw_text("no values yet", &(FONT, 16).into_font().color(&BLACK), (60, 60))?;
        return Ok(());
    };
    let x_pad = ((x1 - x0) / 50).max(1);
    let x = x0 - x_pad..x1 + x_pad;
    let (lo, hi) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    if panel.log && lo > 0.0 {
        // Whole decades, so the axis has labelled ticks even when the values span less than one
        // (widened by a hair, so rounding does not drop the end ticks).
        let lo = 10f64.powf(lo.log10().floor()) * (1.0 - 1e-9);
        let hi = 10f64.powf(hi.log10().ceil()).max(10.0 * lo) * (1.0 + 1e-9);
        draw_chart(area, panel, x, (lo..hi).log_scale())
    } else {
        let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.1 * lo.abs() };
        let pad = if pad > 0.0 { pad } else { 1.0 };
        draw_chart(area, panel, x, lo - pad..hi + pad)
    }
}

/// Draws the axes, curves and legend of `panel` on the ranges `x` and `y`.
fn draw_chart<Y>(area: &Area, panel: &Panel, x: Range<i64>, y: Y) -> Result<(), Box<dyn Error>>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, (FONT, 22))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(75)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(panel.x)
        .y_desc(panel.y)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .max_light_lines(4)
        .y_label_formatter(&tick)
        .draw()?;
    for s in panel.series.iter().filter(|s| !s.points.is_empty()) {
        let (color, line, dots) = (s.color, s.line, s.dots);
        let circles = || s.points.iter().map(move |&p| Circle::new(p, dots, color.filled()));
        if line > 0 && dots > 0 {
            chart.draw_series(circles())?;
        }
        let drawn = if line > 0 {
            chart.draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(line)))?
        } else {
            chart.draw_series(circles())?
        };
        drawn.label(&s.label).legend(move |(x, y)| {
            let dot = if dots > 0 { color.filled() } else { TRANSPARENT.filled() };
            let mark = EmptyElement::at((x, y)) + Circle::new((10, 0), dots, dot);
            mark + PathElement::new(if line > 0 { vec![(0, 0), (20, 0)] } else { vec![] }, color.stroke_width(line))
        });
    }
    chart
        .configure_series_labels()
        .position(panel.legend.clone())
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 15))
        .draw()?;
    Ok(())
}

/// An axis label: at most four decimals, in scientific notation outside [0.001, 100000).
fn tick(v: &f64) -> String {
    let trim = |s: &str| s.trim_end_matches('0').trim_end_matches('.').to_string();
    if *v != 0.0 && !(1e-3..1e5).contains(&v.abs()) {
        let text = format!("{v:.2e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        format!("{}e{exponent}", trim(mantissa))
    } else {
        trim(&format!("{v:.4}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{STEP_HEADER, VALIDATION_HEADER};

    /// A run folder with `train_log.csv` and `validation.csv` holding `steps` and `validations`.
    fn run(steps: &str, validations: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("train_log.csv"), steps).unwrap();
        std::fs::write(dir.path().join("validation.csv"), validations).unwrap();
        dir
    }

    fn colours(path: &Path) -> std::collections::HashSet<[u8; 3]> {
        let image = image::open(path).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (WIDTH, HEIGHT));
        image.pixels().map(|p| p.0).collect()
    }

    #[test]
    fn plots_both_panels_with_every_curve() {
        let mut steps = format!("{STEP_HEADER}\n");
        for step in 1..=120 {
            let loss = match step {
                7 => "NaN".to_string(),
                8 => "inf".to_string(),
                _ => format!("{:.6e}", 0.5 / step as f64 * (1.0 + 0.3 * (step as f64).sin())),
            };
            steps += &format!("{step},{},{loss},1e-3,0.5,10.0\n", (step - 1) / 30 + 1);
        }
        // Columns are found by name: this header is in another order than the logs write it.
        let mut validations = "psnr,epoch,step,train_loss,input_psnr,baseline_psnr,baseline\n".to_string();
        for epoch in 1..=4 {
            let psnr = 25.0 + epoch as f64;
            validations += &format!("{psnr},{epoch},{},{},21.5,24.0,CG-SENSE\n", 30 * epoch, 0.2 / epoch as f64);
        }
        let dir = run(&steps, &validations);
        let path = plot_run(dir.path()).unwrap();
        assert_eq!(path, dir.path().join("curves.png"));
        let found = colours(&path);
        assert!(found.len() > 20, "{} colours", found.len());
        for colour in [WHITE, BLACK, LOSS, LOSS_MEAN, EPOCH_LOSS, MODEL, INPUT, BASELINE] {
            assert!(found.contains(&[colour.0, colour.1, colour.2]), "{colour:?} is missing");
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 3, "a temporary file is left: {names:?}");
    }

    #[test]
    fn plots_a_single_step_without_validations() {
        let dir = run(&format!("{STEP_HEADER}\n1,1,0.25,1e-3,0.5,10.0\n"), &format!("{}\n", VALIDATION_HEADER));
        let found = colours(&plot_run(dir.path()).unwrap());
        assert!(found.contains(&[LOSS.0, LOSS.1, LOSS.2]));
        assert!(!found.contains(&[MODEL.0, MODEL.1, MODEL.2]), "an empty panel has a model curve");
    }

    #[test]
    fn bad_logs_are_errors_naming_the_file() {
        let empty = run(&format!("{STEP_HEADER}\n"), &format!("{}\n", VALIDATION_HEADER));
        let message = plot_run(empty.path()).unwrap_err().to_string();
        assert!(message.contains("train_log.csv") && message.contains("nothing to plot"), "{message}");
        assert!(!empty.path().join("curves.png").exists());

        let missing = tempfile::tempdir().unwrap();
        std::fs::write(missing.path().join("train_log.csv"), format!("{STEP_HEADER}\n1,1,0.25,1e-3,0.5,10.0\n"))
            .unwrap();
        let message = plot_run(missing.path()).unwrap_err().to_string();
        assert!(message.contains("validation.csv"), "{message}");

        let no_column = run("step,epoch\n1,1\n", &format!("{VALIDATION_HEADER}\n"));
        let message = plot_run(no_column.path()).unwrap_err().to_string();
        assert!(message.contains("train_log.csv") && message.contains("`loss`"), "{message}");
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(&0.30000000000000004), "0.3");
        assert_eq!(tick(&30.25), "30.25");
        assert_eq!(tick(&2e-5), "2e-5");
        assert_eq!(tick(&2.5e-4), "2.5e-4");
        assert_eq!(tick(&0.0), "0");
    }
}
