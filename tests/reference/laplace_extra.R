# Extra lme4 reference fits for the Laplace backend: prior weights, offsets, non-canonical
# links. Run from the repository root:  Rscript tests/reference/laplace_extra.R
# Writes tests/reference/laplace_extra.json (lme4 1.1-31, R 4.2.2).
suppressMessages({library(lme4); library(jsonlite)})

record <- function(id, fit, data_note) {
  vc <- as.data.frame(VarCorr(fit))
  list(
    id = id, call = paste(deparse(getCall(fit)), collapse = " "), data = data_note,
    method = if (isLMM(fit)) (if (isREML(fit)) "REML" else "ML")
             else if (fit@devcomp$dims[["nAGQ"]] == 0) "nAGQ=0" else "Laplace",
    logLik = as.numeric(logLik(fit)),
    fixef = list(names = names(fixef(fit)), estimate = unname(fixef(fit)),
                 std_error = unname(sqrt(diag(as.matrix(vcov(fit)))))),
    theta = unname(getME(fit, "theta")),
    sdcor = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, sdcor = vc$sdcor),
    sigma = sigma(fit)
  )
}

fits <- list()
ss <- sleepstudy
ss$w <- 1 + (ss$Days %% 3)
for (reml in c(TRUE, FALSE)) {
  f <- lmer(Reaction ~ Days + (Days | Subject), data = ss, weights = w, REML = reml)
  fits[[length(fits) + 1]] <- record(
    paste0("sleepstudy_weighted_", if (reml) "REML" else "ML"), f,
    "sleepstudy, weights w = 1 + Days %% 3")
}

cb <- cbpp
cb$w <- 1 + (as.integer(cb$herd) %% 2)
f <- glmer(incidence ~ period + offset(log(size)) + (1 | herd), data = cb, family = poisson)
fits[[length(fits) + 1]] <- record("cbpp_poisson_offset", f, "cbpp")
f <- glmer(incidence ~ period + offset(log(size)) + (1 | herd), data = cb, family = poisson,
           weights = w)
fits[[length(fits) + 1]] <- record("cbpp_poisson_offset_weighted", f,
                                   "cbpp, weights w = 1 + as.integer(herd) %% 2")
for (lk in c("probit", "cloglog")) {
  f <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cb,
             family = binomial(link = lk))
  fits[[length(fits) + 1]] <- record(paste0("cbpp_binomial_", lk), f, "cbpp")
}
f <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cb,
           family = binomial(link = "probit"), nAGQ = 0)
fits[[length(fits) + 1]] <- record("cbpp_binomial_probit_nAGQ0", f, "cbpp")

writeLines(toJSON(list(lme4 = as.character(packageVersion("lme4")), fits = fits),
                  digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/laplace_extra.json")
