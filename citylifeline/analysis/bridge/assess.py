"""A bridge's technical-condition class from its monitoring, with the reasons, twice a day.

CJJ 99-2017 (*Technical code of maintenance for city bridges*) grades a city bridge in five classes,
A 完好 (intact) … E 危险 (dangerous), by scoring its members at inspection.  Between inspections the
monitoring can say only part of that; these rules are the platform's, stated so that a bridge
engineer can check them (``assess``):

- **E** the compensated first frequency has dropped 7 % or more (about 14 % of the bending
  stiffness: a member badly cracked or a bearing seized);
- **D** it has dropped 3 % or more, or a vehicle of twice the design vehicle (JTG D60-2015) crossed;
- **C** the damage chart is in alarm (a drop of its design size, 1.5 %), or a vehicle beyond the
  design load (the design vehicle times its ultimate-state factor) crossed, or a strain gauge's
  detail (sampled at 10 Hz or more) would reach Miner's sum of 1 within ``FATIGUE_C_YEARS`` at the
  rate measured (a detail to inspect for cracks);
- **B** overweight vehicles crossed, or the damage chart stands past half its limit;
- **A** none of these.

The half-day's vehicles count (the twelve hours before the assessment).
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass
from typing import Any

import numpy as np

from .fatigue import ADEQUATE_HZ, fatigue_words

CLASSES = (("A", "完好", "intact"), ("B", "良好", "good"), ("C", "合格", "fair"), ("D", "不合格", "poor"),
           ("E", "危险", "dangerous"))
E_DROP, D_DROP = 0.07, 0.03
FATIGUE_C_YEARS = 20.0


@dataclass
class Assessment:
    """One bridge's class at one time, and what it rests on."""

    bridge: int
    t_ms: int
    grade: int  # 0 … 4: A … E
    drop: float  # the chart's alarm in force: the drop (NaN: none)
    shift: float  # the latest compensated frequency's shift, a fraction (NaN: not watching)
    cusum_share: float  # the chart's CUSUM over its limit (NaN: not watching)
    overweights: int
    heaviest_t: float
    fatigue_used: float  # the gauges' largest Miner's sum since monitoring began (NaN: no strain gauge)
    fatigue_years: float  # the shortest remaining life at the rate measured (inf: none foreseen; NaN: not known)
    fatigue_hz: float  # the slowest gauge's reading rate

    def row(self) -> list[float]:
        return [float(x) for x in astuple(self)]

    @classmethod
    def of(cls, r: np.ndarray) -> Assessment:
        r = np.r_[r, np.full(11 - len(r), np.nan)]  # a checkpoint from before fatigue was live
        return cls(int(r[0]), int(r[1]), int(r[2]), float(r[3]), float(r[4]), float(r[5]), int(r[6]), float(r[7]),
                   float(r[8]), float(r[9]), float(r[10]))

    def reasons(self) -> list[dict[str, str]]:
        """Why, in both languages: the frequency, the chart, the vehicles, fatigue."""
        out = []
        if not math.isnan(self.drop):
            out.append({"zh": f"温度补偿后一阶频率下降 {self.drop:.1%}（约相当于抗弯刚度损失 {2 * self.drop:.0%}）",
                        "en": f"first frequency {self.drop:.1%} below its temperature-compensated normal "
                              f"(about {2 * self.drop:.0%} of bending stiffness)"})
        elif math.isnan(self.shift):
            out.append({"zh": "频率基准学习中（或无桥面温度计）：频率暂按固定限值判断",
                        "en": "the frequency's normal is still being learnt (or no deck thermometer): its fixed "
                              "limits judge it meanwhile"})
        else:
            out.append({"zh": f"温度补偿后一阶频率偏移 {self.shift:+.2%}，损伤累积和为限值的 {self.cusum_share:.0%}",
                        "en": f"first frequency {self.shift:+.2%} from its temperature-compensated normal; the "
                              f"damage CUSUM at {self.cusum_share:.0%} of its limit"})
        if self.overweights:
            many = "vehicles" if self.overweights > 1 else "vehicle"
            out.append({"zh": f"近 12 小时超限车辆 {self.overweights} 辆，最重约 {self.heaviest_t:.0f} t",
                        "en": f"{self.overweights} overweight {many} in the last 12 h, the heaviest about "
                              f"{self.heaviest_t:.0f} t"})
        else:
            out.append({"zh": "近 12 小时无超限车辆", "en": "no overweight vehicle in the last 12 h"})
        out.append(fatigue_words(self.fatigue_used, self.fatigue_years, self.fatigue_hz))
        return out

    def to_dict(self) -> dict[str, Any]:
        c, zh, en = CLASSES[self.grade]
        return {"t_ms": self.t_ms, "class": c, "zh": zh, "en": en, "reasons": self.reasons(),
                "drop_pct": None if math.isnan(self.drop) else round(100 * self.drop, 2),
                "f1_shift_pct": None if math.isnan(self.shift) else round(100 * self.shift, 2),
                "overweights": self.overweights, "heaviest_t": round(self.heaviest_t, 1),
                "fatigue_used": None if math.isnan(self.fatigue_used) else float(f"{self.fatigue_used:.3g}"),
                "fatigue_years": None if not math.isfinite(self.fatigue_years) else round(self.fatigue_years, 1)}


def assess(bridge: int, t_ms: int, drop: float, shift: float, cusum_share: float, overweights: int,
           heaviest_t: float, over_design_t: float, twice_design_t: float,
           fatigue: tuple[float, float, float] = (math.nan, math.nan, math.nan)) -> Assessment:
    """The class by the rules of the module docstring (``drop`` NaN: no alarm in force)."""
    alarm = not math.isnan(drop)
    if alarm and drop >= E_DROP:
        grade = 4
    elif (alarm and drop >= D_DROP) or heaviest_t >= twice_design_t:
        grade = 3
    elif alarm or heaviest_t >= over_design_t or (fatigue[2] >= ADEQUATE_HZ and fatigue[1] < FATIGUE_C_YEARS):
        grade = 2
    elif overweights or (not math.isnan(cusum_share) and cusum_share >= 0.5):
        grade = 1
    else:
        grade = 0
    return Assessment(bridge, t_ms, grade, drop, shift, cusum_share, overweights, heaviest_t, *fatigue)
