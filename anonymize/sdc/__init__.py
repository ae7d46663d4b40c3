"""Statistical disclosure control: risk measures over quasi-identifiers (DESIGN 7)."""

from anonymize.sdc.risk import RiskReport, SensitiveRisk, risk_report, summary

__all__ = ["RiskReport", "SensitiveRisk", "risk_report", "summary"]
