// A center's day in headless Chromium, through the console only: staff,
// a partner and a reviewer sign in, register an organization, enrol
// participants, take attendance on the grid, submit and review a proposal.
// Every screen is checked right-to-left, run through axe (no serious or
// critical violation), and saved as a screenshot.
//
// Run by crates/console/tests/browser.rs:
//   CONSOLE_URL=http://127.0.0.1:PORT SCREENSHOTS=docs/console node flow.mjs
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const BASE = process.env.CONSOLE_URL;
const SHOTS = process.env.SCREENSHOTS || '';
if (!BASE) throw new Error('CONSOLE_URL is not set');

const today = new Date();
const day = (offset) => {
  const d = new Date(today.getTime() + offset * 86400000);
  return d.toISOString().slice(0, 10);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
let screens = 0;

/// Checks the page as a reader sees it and keeps a picture of it.
async function screen(page, name, { dir = 'rtl' } = {}) {
  await page.waitForLoadState('load');
  const seen = await page.evaluate(() => ({
    dir: document.documentElement.dir,
    direction: getComputedStyle(document.body).direction,
    lang: document.documentElement.lang,
    brandRight: (() => {
      const b = document.querySelector('.brand').getBoundingClientRect();
      return b.left > window.innerWidth / 2;
    })(),
  }));
  if (seen.dir !== dir || seen.direction !== dir) {
    problems.push(`${name}: direction ${seen.dir}/${seen.direction}, wanted ${dir}`);
  }
  if ((dir === 'rtl') !== seen.brandRight) {
    problems.push(`${name}: the header does not start on the ${dir === 'rtl' ? 'right' : 'left'}`);
  }
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () =>
    await window.axe.run(document, { resultTypes: ['violations'] }));
  for (const v of result.violations) {
    if (v.impact === 'serious' || v.impact === 'critical') {
      problems.push(`${name}: axe ${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
    }
  }
  if (SHOTS) {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  }
  screens += 1;
}

async function signIn(role, subject, organization = '') {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ar' });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  await page.goto(`${BASE}/signin`);
  await page.check(`#role-${role}`);
  await page.fill('[name="subject"]', subject);
  if (organization) await page.fill('[name="organization"]', organization);
  await Promise.all([page.waitForURL(/\/(today|admin)/), page.click('form[action="/signin"] button[type=submit]')]);
  return page;
}

let last = null;
async function submit(page, formSelector, urlPattern) {
  last = page;
  const button = `${formSelector} button[type=submit]`;
  if (urlPattern) {
    await Promise.all([page.waitForURL(urlPattern), page.click(button)]);
  } else {
    await Promise.all([page.waitForLoadState('load'), page.click(button)]);
  }
}

function expect(condition, what) {
  if (!condition) throw new Error(`expected: ${what}`);
}

const idFrom = (url, prefix) => new URL(url).pathname.split(prefix)[1].split('/')[0];

try {
  // --- admin: a branch, and a reviewer (a person of no organization).
  const admin = await signIn('admin', 'dev-admin');
  await admin.goto(`${BASE}/admin/people`);
  await admin.fill('[name="branch.id"]', 'raqqa');
  await admin.fill('[name="branch.name.ar"]', 'الرقة');
  await admin.fill('[name="branch.name.en"]', 'Raqqa');
  await admin.fill('[name="branch.governorate"]', 'الرقة');
  await submit(admin, 'form[action="/admin/branches"]', /done=branch_created/);
  await admin.fill('form[action="/admin/people"] [name="person.full_name"]', 'خبير مستقل');
  await admin.selectOption('form[action="/admin/people"] [name="person.gender"]', 'GENDER_MALE');
  await admin.selectOption('form[action="/admin/people"] [name="person.age_band"]', 'AGE_BAND_35_44');
  await admin.selectOption('form[action="/admin/people"] [name="person.legal_basis"]', 'LEGAL_BASIS_CONTRACT');
  await admin.fill('form[action="/admin/people"] [name="person.processing_purpose"]', 'مقيّم خارجي للمنح');
  await submit(admin, 'form[method="post"][action="/admin/people"]', /\/admin\/people\/.+done=person_added/);
  const reviewerPerson = idFrom(admin.url(), '/admin/people/');
  await screen(admin, '10-person');
  await admin.goto(`${BASE}/admin/people`);
  await screen(admin, '10-administration-people');

  // --- staff: register an organization (a refused form first).
  const staff = await signIn('staff', 'dev-staff');
  await staff.goto(`${BASE}/organizations/new`);
  // Nothing typed: the browser lets it go, the service names every field.
  await submit(staff, 'form[action="/organizations/new"]');
  expect(await staff.locator('#organization-name-error').count() === 1, 'the name is named');
  await screen(staff, '02-organization-form-refused');
  await staff.selectOption('[name="organization.kind"]', 'ORGANIZATION_KIND_CSO');
  await staff.fill('[name="organization.name.ar"]', 'جمعية شباب الفرات');
  await staff.fill('[name="organization.name.en"]', 'Euphrates Youth');
  await staff.fill('[name="organization.acronym"]', 'EYA');
  await staff.fill('[name="organization.governorate"]', 'الرقة');
  await staff.selectOption('[name="organization.branch_id"]', 'raqqa');
  await staff.check('#sector-SECTOR_YOUTH');
  await staff.fill('[name="organization.email"]', 'info@euphrates.example');
  await submit(staff, 'form[action="/organizations/new"]', /\/organizations\/.+done=org_created/);
  const org = idFrom(staff.url(), '/organizations/');
  await screen(staff, '02-organization-profile');

  // Its people.
  for (const [name, gender] of [['سلمى الأحمد', 'GENDER_FEMALE'], ['خالد العلي', 'GENDER_MALE']]) {
    await staff.goto(`${BASE}/organizations/${org}?tab=people`);
    await staff.fill('[name="person.full_name"]', name);
    await staff.selectOption('[name="person.gender"]', gender);
    await staff.selectOption('[name="person.age_band"]', 'AGE_BAND_25_34');
    await staff.selectOption('[name="person.legal_basis"]', 'LEGAL_BASIS_CONSENT');
    await staff.fill('[name="person.processing_purpose"]', 'مشارك في التدريب');
    await staff.fill('[name="affiliation.role"]', 'متطوع');
    await submit(staff, `form[action="/organizations/${org}/people"]`, /done=person_added/);
  }
  expect((await staff.content()).includes('سلمى الأحمد'), 'the people are listed');
  await screen(staff, '02-organization-people');

  // An assessment with its action plan.
  await staff.goto(`${BASE}/organizations/${org}/assessments/new`);
  for (let i = 0; i < 7; i += 1) {
    await staff.fill(`[name="assessment.domains[${i}].score"]`, String((i % 4) + 1));
    await staff.fill(`[name="assessment.domains[${i}].justification"]`, 'نقاش مع الفريق');
  }
  await staff.selectOption('[name="assessment.action_plan[0].domain"]', 'CAPACITY_DOMAIN_GOVERNANCE');
  await staff.fill('[name="assessment.action_plan[0].gap"]', 'لا يوجد مجلس إدارة فعّال');
  await staff.fill('[name="assessment.action_plan[0].action"]', 'انتخاب مجلس إدارة');
  await staff.fill('[name="assessment.action_plan[0].due_date"]', day(60));
  await staff.fill('[name="assessment.action_plan[0].owner"]', 'المدير');
  await screen(staff, '02-assessment-form');
  await submit(staff, 'form[action$="/assessments/new"]', /tab=assessments/);
  await screen(staff, '02-organization-assessments');

  // --- a course: scheduled, opened, participants enrolled.
  await staff.goto(`${BASE}/courses/new`);
  await staff.selectOption('[name="course.kind"]', 'COURSE_KIND_WORKSHOP');
  await staff.fill('[name="course.title.ar"]', 'ورشة كتابة المقترحات');
  await staff.fill('[name="course.title.en"]', 'Proposal writing workshop');
  await staff.check('#topic-proposal-writing');
  await staff.selectOption('[name="course.branch_id"]', 'raqqa');
  await staff.fill('[name="course.venue"]', 'قاعة المركز');
  await staff.fill('[name="course.sessions[0].date"]', day(-1));
  await staff.fill('[name="course.sessions[1].date"]', day(0));
  await staff.fill('[name="course.capacity"]', '20');
  await staff.fill('[name="course.trainers[0].name"]', 'م. هالة');
  await staff.fill('[name="course.trainers[0].subject"]', 'dev-trainer');
  await screen(staff, '03-course-form');
  await submit(staff, 'form[action="/courses/new"]', /\/courses\/.+done=course_scheduled/);
  const course = idFrom(staff.url(), '/courses/');
  await submit(staff, 'form[action$="/state"]:has(input[value="open"])', /done=course_open/);
  await staff.selectOption('#enrol-org', org);
  await submit(staff, `form[action="/courses/${course}"]`, /enrol_org=/);
  for (const box of await staff.locator('form[action$="/enrol"] input[type=checkbox]').all()) await box.check();
  await screen(staff, '03-course-enrol');
  await submit(staff, 'form[action$="/enrol"]', /done=enrolled/);
  await submit(staff, 'form[action$="/state"]:has(input[value="start"])', /done=course_start/);
  await staff.goto(`${BASE}/courses?status=COURSE_STATUS_RUNNING`);
  await screen(staff, '03-courses');

  // --- the trainer takes attendance on the grid (htmx saves it in place).
  const trainer = await signIn('trainer', 'dev-trainer');
  await trainer.goto(`${BASE}/today`);
  await screen(trainer, '01-today-trainer');
  await trainer.goto(`${BASE}/courses/${course}`);
  const cells = await trainer.locator('table.attendance tbody select').all();
  expect(cells.length === 4, `a 2 × 2 grid, got ${cells.length}`);
  await cells[0].selectOption('ATTENDANCE_STATUS_PRESENT');
  await cells[2].selectOption('ATTENDANCE_STATUS_EXCUSED');
  // "All present" on the second day fills its empty cells and saves all.
  const secondDay = trainer.locator('table.attendance tfoot button').nth(1);
  await Promise.all([trainer.waitForResponse((r) => r.url().includes(`/courses/${course}`) && r.request().method() === 'GET'), secondDay.click()]);
  await trainer.waitForSelector('.notice');
  const marks = await trainer.locator('table.attendance tbody select').evaluateAll((s) => s.map((x) => x.value));
  expect(JSON.stringify(marks) === JSON.stringify(['ATTENDANCE_STATUS_PRESENT', 'ATTENDANCE_STATUS_PRESENT', 'ATTENDANCE_STATUS_EXCUSED', 'ATTENDANCE_STATUS_PRESENT']), `marks saved: ${marks}`);
  await screen(trainer, '03-attendance-grid');

  // --- completion and a certificate anyone can verify.
  await staff.goto(`${BASE}/courses/${course}`);
  await submit(staff, 'form[action$="/state"]:has(input[value="complete"])', /done=course_complete/);
  await screen(staff, '03-course-completed');
  await Promise.all([staff.waitForURL(/\/certificates\//), staff.click('a[href*="/certificates/"]')]);
  const code = (await staff.locator('.certificate .code').innerText()).trim();
  await screen(staff, '03-certificate');
  const visitor = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await visitor.goto(`${BASE}/verify?code=${encodeURIComponent(code)}`);
  expect((await visitor.content()).includes('شهادة صحيحة'), 'the certificate verifies');
  await screen(visitor, '11-verify-certificate');
  await visitor.goto(`${BASE}/suggest`);
  await visitor.fill('[name="suggestion.title"]', 'تدريب على المناصرة الرقمية');
  await visitor.fill('[name="suggestion.description"]', 'للمنظمات الشبابية في الريف');
  await submit(visitor, 'form[action="/suggest"]');
  expect((await visitor.content()).includes('شكراً لاقتراحك'), 'a receipt');
  await screen(visitor, '11-suggest-training');
  await visitor.goto(`${BASE}/profile`);
  await screen(visitor, '11-public-profile-planned');

  // --- a consultation with a follow-up.
  await staff.goto(`${BASE}/consultations/new`);
  await staff.selectOption('[name="consultation.kind"]', 'CONSULTATION_KIND_TECHNICAL_SUPPORT');
  await staff.selectOption('[name="consultation.organization_id"]', org);
  await staff.fill('[name="consultation.advisor.name"]', 'أ. سامر');
  await staff.selectOption('[name="consultation.branch_id"]', 'raqqa');
  await staff.fill('[name="consultation.notes"]', 'مراجعة الميزانية السنوية');
  await staff.fill('[name="consultation.follow_up_actions[0].description"]', 'إعداد ميزانية ٢٠٢٧');
  await staff.fill('[name="consultation.follow_up_actions[0].owner"]', 'المحاسب');
  await staff.fill('[name="consultation.follow_up_actions[0].due_date"]', day(2));
  await submit(staff, 'form[action="/consultations/new"]', /done=consultation_recorded/);
  await screen(staff, '04-consultation');
  await staff.goto(`${BASE}/consultations`);
  await screen(staff, '04-consultations');

  // --- grants: a program, a blind call, a reviewer.
  await staff.goto(`${BASE}/grants`);
  await staff.fill('[name="program.name.ar"]', 'منحة الأب باولو للمشاريع المجتمعية');
  await staff.fill('[name="program.name.en"]', 'Father Paolo Grant for Community Projects');
  await submit(staff, 'form[action="/grants/programs"]', /done=program_created/);
  await staff.fill('[name="reviewer.person_id"]', reviewerPerson);
  await staff.fill('[name="reviewer.subject"]', 'dev-reviewer');
  await staff.check('#exp-SECTOR_WATER_SANITATION_HYGIENE');
  await submit(staff, 'form[action="/grants/reviewers"]', /done=reviewer_registered/);
  await Promise.all([staff.waitForURL(/calls\/new/), staff.click('a[href^="/grants/calls/new?program="]')]);
  await staff.fill('[name="call.title.ar"]', 'الجولة الأولى ٢٠٢٦');
  await staff.fill('[name="call.title.en"]', 'First round 2026');
  await staff.fill('[name="call.budget_envelope"]', '50000');
  await staff.fill('[name="call.project_ceiling"]', '5000');
  await staff.fill('[name="call.opens_on"]', day(0));
  await staff.fill('[name="call.closes_on"]', day(30));
  await staff.fill('[name="call.rubric.criteria[0].code"]', 'need');
  await staff.fill('[name="call.rubric.criteria[0].name.ar"]', 'حاجة المجتمع');
  await staff.fill('[name="call.rubric.criteria[0].weight"]', '2');
  await staff.fill('[name="call.rubric.criteria[1].code"]', 'plan');
  await staff.fill('[name="call.rubric.criteria[1].name.ar"]', 'جودة خطة العمل');
  await staff.fill('[name="call.rubric.criteria[1].weight"]', '1');
  await staff.check('#f-call-blind-review');
  await screen(staff, '05-call-form');
  await submit(staff, 'form[action="/grants/calls/new"]', /done=call_created/);
  const call = idFrom(staff.url(), '/grants/calls/');
  await submit(staff, 'form[action$="/state"]:has(input[value="open"])', /done=call_open/);
  await staff.goto(`${BASE}/grants`);
  await screen(staff, '05-grants');

  // --- the partner writes and submits its proposal.
  const partner = await signIn('partner', 'dev-partner', org);
  await screen(partner, '01-today-partner');
  await partner.goto(`${BASE}/organizations`);
  expect(partner.url().includes(`/organizations/${org}`), 'a partner lands on its own organization');
  await screen(partner, '02-partner-organization');
  await partner.goto(`${BASE}/grants/calls/${call}`);
  await partner.fill('[name="proposal.title.ar"]', 'إعادة تأهيل بئر القرية');
  await partner.fill('[name="proposal.title.en"]', 'Village well rehabilitation');
  await submit(partner, `form[action="/grants/calls/${call}/proposals"]`, /\/edit/);
  const proposal = idFrom(partner.url(), '/grants/proposals/');
  await partner.fill('[name="proposal.summary.ar"]', 'إعادة تأهيل بئر تخدم ٧٥ أسرة');
  await partner.fill('[name="proposal.community_need.ar"]', 'لا مياه شرب آمنة في القرية');
  await partner.fill('[name="proposal.location.governorate"]', 'الرقة');
  await partner.fill('[name="proposal.location.place.ar"]', 'قرية الحمرات');
  await partner.selectOption('[name="proposal.sector"]', 'SECTOR_WATER_SANITATION_HYGIENE');
  await partner.fill('[name="proposal.beneficiaries_targeted.female"]', '40');
  await partner.fill('[name="proposal.beneficiaries_targeted.male"]', '35');
  await partner.fill('[name="proposal.start_date"]', day(10));
  await partner.fill('[name="proposal.end_date"]', day(70));
  await partner.selectOption('[name="proposal.budget_lines[0].category"]', 'BUDGET_CATEGORY_EQUIPMENT');
  await partner.fill('[name="proposal.budget_lines[0].amount"]', '3000');
  await partner.fill('[name="proposal.budget_lines[0].description.ar"]', 'مضخة غاطسة');
  await partner.fill('[name="proposal.milestones[0].title.ar"]', 'تركيب المضخة');
  await partner.fill('[name="proposal.milestones[0].due_date"]', day(40));
  await partner.fill('[name="proposal.milestones[0].deliverables.ar"]', 'محضر تسليم');
  await screen(partner, '05-proposal-form');
  await submit(partner, 'form[action$="/edit"]', /done=proposal_saved/);
  await submit(partner, 'form[action$="/action"]:has(input[value="submit"])', /done=proposal_submit/);
  await screen(partner, '05-proposal-partner');

  // --- staff take it into review and assign the reviewer.
  await staff.goto(`${BASE}/grants/proposals/${proposal}`);
  await submit(staff, 'form[action$="/action"]:has(input[value="start_review"])', /done=proposal_start_review/);
  await submit(staff, `form[action="/grants/proposals/${proposal}/reviewers"]`, /done=reviewer_assigned/);
  await staff.goto(`${BASE}/grants/calls/${call}`);
  await screen(staff, '05-call-proposals');

  // --- the reviewer scores it, blind.
  const reviewer = await signIn('reviewer', 'dev-reviewer');
  await screen(reviewer, '01-today-reviewer');
  await reviewer.goto(`${BASE}/grants/proposals/${proposal}`);
  const html = await reviewer.content();
  expect(!html.includes('جمعية شباب الفرات'), 'the reviewer does not see the applicant');
  await reviewer.fill('[name="score.need"]', '5');
  await reviewer.fill('[name="score.plan"]', '4');
  await reviewer.fill('[name="comment"]', 'حاجة واضحة وخطة واقعية');
  await screen(reviewer, '05-reviewer-scoring');
  await submit(reviewer, 'form#score', /done=score_submitted/);

  // --- staff approve and award it in one tranche.
  await staff.goto(`${BASE}/grants/proposals/${proposal}`);
  await submit(staff, 'form[action$="/action"]:has(input[value="approve"])', /done=proposal_approve/);
  await staff.fill('[name="tranche.1"]', '3000');
  await screen(staff, '05-proposal-staff');
  await submit(staff, `form[action="/grants/proposals/${proposal}/award"]`, /\/grants\/awards\/.+done=awarded/);
  await screen(staff, '05-award');

  // --- Today for staff, in Arabic and in English.
  await staff.goto(`${BASE}/today`);
  await screen(staff, '01-today-staff');
  await submit(staff, 'form[action="/lang"]', /\/today/);
  await screen(staff, '01-today-staff-english', { dir: 'ltr' });
  await submit(staff, 'form[action="/lang"]', /\/today/);
  // --- networking: an issue, an event that started a minute ago in Raqqa
  // (UTC+3), the organization invited, a walk-in at the door on a phone.
  await staff.goto(`${BASE}/networking/coalitions`);
  await staff.fill('[name="issue.code"]', 'clean-schools');
  await staff.fill('form[action="/networking/issues/new"] [name="issue.name.ar"]', 'مدارس نظيفة');
  await submit(staff, 'form[action="/networking/issues/new"]', /done=issue_created/);
  const raqqa = (ms) => new Date(ms + 180 * 60000).toISOString().slice(0, 16);
  await staff.goto(`${BASE}/networking/events/new`);
  await staff.selectOption('[name="event.kind"]', 'EVENT_KIND_LOCAL_ADMINISTRATION_MEETING');
  await staff.fill('[name="event.title.ar"]', 'لقاء مع مجلس الرقة المدني');
  await staff.fill('[name="event.title.en"]', 'Meeting the Raqqa civil council');
  await staff.selectOption('[name="event.branch_id"]', 'raqqa');
  await staff.fill('[name="event.venue"]', 'قاعة المركز');
  await staff.fill('[name="event.start_time"]', raqqa(Date.now() - 60000));
  await staff.fill('[name="event.end_time"]', raqqa(Date.now() + 3 * 3600000));
  await staff.check('#eissue-clean-schools');
  await submit(staff, 'form[action="/networking/events/new"]', /\/networking\/events\/.+done=event_created/);
  const event = idFrom(staff.url(), '/networking/events/');
  await staff.selectOption(`form[action="/networking/events/${event}/invite"]:has(input[value="organization"]) [name="organization_id"]`, org);
  await submit(staff, `form[action="/networking/events/${event}/invite"]:has(input[value="organization"])`, /done=invited/);
  await screen(staff, '06-event');
  const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'ar' })).newPage();
  phone.setDefaultTimeout(10000);
  await phone.goto(`${BASE}/signin`);
  await phone.check('#role-staff');
  await phone.fill('[name="subject"]', 'dev-door');
  await Promise.all([phone.waitForURL(/\/today/), phone.click('form[action="/signin"] button[type=submit]')]);
  await phone.goto(`${BASE}/networking/events/${event}/checkin`);
  await phone.selectOption('form:has(input[value="walk-in"]) [name="category"]', 'PARTICIPANT_CATEGORY_LOCAL_ADMINISTRATION');
  await phone.selectOption('form:has(input[value="walk-in"]) [name="gender"]', 'GENDER_MALE');
  await phone.fill('form:has(input[value="walk-in"]) [name="count"]', '2');
  await submit(phone, 'form:has(input[value="walk-in"])', /done=checked_in/);
  expect((await phone.locator('.count strong').innerText()).includes('٢'), 'two checked in');
  await screen(phone, '06-checkin-phone');
  // Held: its minutes side by side, its decisions as rows.
  await staff.goto(`${BASE}/networking/events/${event}`);
  await submit(staff, `form[action="/networking/events/${event}/held"]`, /done=event_held/);
  await staff.goto(`${BASE}/networking/events/${event}/outcome`);
  await staff.fill('[name="outcome.minutes.ar"]', 'ناقش الحاضرون وضع المدارس في الرقة.');
  await staff.fill('[name="outcome.minutes.en"]', 'The schools of Raqqa were discussed.');
  await staff.fill('[name="outcome.decisions[0].text.ar"]', 'زيارة ميدانية لثلاث مدارس');
  await screen(staff, '06-event-outcome');
  await submit(staff, `form[action="/networking/events/${event}/outcome"]`, /done=outcome_saved/);
  expect((await staff.locator('main').innerText()).includes('زيارة ميدانية لثلاث مدارس'), 'the decision on the event page');
  await screen(staff, '06-event-minutes');
  // A commitment made there, carried to a follow-up meeting next week.
  const commitmentForm = `form[action="/networking/events/${event}/commitments"]`;
  await staff.fill(`${commitmentForm} [name="commitment.description.ar"]`, 'تقديم قائمة المدارس');
  await staff.selectOption(`${commitmentForm} [name="commitment.owner.organization_id"]`, org);
  await staff.fill(`${commitmentForm} [name="commitment.due_date"]`, day(7));
  await submit(staff, commitmentForm, /done=commitment_made/);
  await staff.goto(`${BASE}/networking/events/new`);
  await staff.selectOption('[name="event.kind"]', 'EVENT_KIND_NETWORKING');
  await staff.fill('[name="event.title.ar"]', 'اجتماع المتابعة');
  await staff.selectOption('[name="event.branch_id"]', 'raqqa');
  await staff.fill('[name="event.start_time"]', raqqa(Date.now() + 7 * 86400000));
  await staff.fill('[name="event.end_time"]', raqqa(Date.now() + 7 * 86400000 + 7200000));
  await submit(staff, 'form[action="/networking/events/new"]', /\/networking\/events\/.+done=event_created/);
  const followUp = idFrom(staff.url(), '/networking/events/');
  await staff.goto(`${BASE}/networking/commitments`);
  await Promise.all([staff.waitForURL(/\/carry$/), staff.click('a[href$="/carry"]')]);
  await staff.selectOption('[name="event_id"]', followUp);
  await staff.fill('[name="note"]', 'أُجّل إلى اجتماع المتابعة');
  await screen(staff, '06-commitment-carry');
  await submit(staff, 'form[action$="/carry"]', /done=commitment_carried/);
  expect((await staff.locator('main').innerText()).includes('تقديم قائمة المدارس'), 'the commitment on the next meeting');
  await staff.goto(`${BASE}/networking`);
  await screen(staff, '06-networking');
  // --- a coalition the organization leads, its own page.
  await staff.goto(`${BASE}/networking/coalitions`);
  const coalitionForm = 'form[action="/networking/coalitions/new"]';
  await staff.fill(`${coalitionForm} [name="coalition.name.ar"]`, 'تحالف المدارس النظيفة');
  await staff.check('#cissue-clean-schools');
  await staff.selectOption(`${coalitionForm} [name="coalition.lead_organization_id"]`, org);
  await submit(staff, coalitionForm, /done=coalition_created/);
  await Promise.all([staff.waitForURL(/\/networking\/coalitions\/.+/), staff.click('a:text("تحالف المدارس النظيفة")')]);
  expect(await staff.locator('form[action$="/members"]').count() === 1, 'the join form');
  await screen(staff, '06-coalition');
  // --- the coalition edited (its charter), then a campaign it runs:
  // edited with an activity, launched, an outcome recorded with its link.
  const coalition = idFrom(staff.url(), '/networking/coalitions/');
  await staff.goto(`${BASE}/networking/coalitions/${coalition}/edit`);
  await staff.fill('[name="coalition.charter.ar"]', 'نعمل معاً من أجل مدارس نظيفة وآمنة، ونقرر بالتوافق.');
  await screen(staff, '06-coalition-edit');
  await submit(staff, `form[action="/networking/coalitions/${coalition}/edit"]`, /done=coalition_saved/);
  expect((await staff.locator('main').innerText()).includes('نعمل معاً'), 'the charter saved');
  await staff.goto(`${BASE}/networking/coalitions`);
  const campaignForm = 'form[action="/networking/campaigns/new"]';
  await staff.fill(`${campaignForm} [name="campaign.title.ar"]`, 'حملة مدارس نظيفة');
  await staff.selectOption(`${campaignForm} [name="campaign.issue_code"]`, 'clean-schools');
  await staff.selectOption(`${campaignForm} [name="campaign.coalition_id"]`, coalition);
  await staff.selectOption(`${campaignForm} [name="campaign.targets[0].kind"]`, 'TARGET_KIND_COMMUNITY');
  await staff.fill(`${campaignForm} [name="campaign.targets[0].description.ar"]`, 'أهالي الطلاب');
  await staff.selectOption(`${campaignForm} [name="campaign.branch_id"]`, 'raqqa');
  await staff.fill(`${campaignForm} [name="campaign.start_date"]`, day(0));
  await staff.fill(`${campaignForm} [name="campaign.end_date"]`, day(90));
  await submit(staff, campaignForm, /done=campaign_created/);
  await Promise.all([staff.waitForURL(/\/networking\/campaigns\/.+/), staff.click('a:text("حملة مدارس نظيفة")')]);
  const campaign = idFrom(staff.url(), '/networking/campaigns/');
  await staff.goto(`${BASE}/networking/campaigns/${campaign}/edit`);
  await staff.fill('[name="campaign.activities[0].date"]', day(0));
  await staff.fill('[name="campaign.activities[0].description.ar"]', 'جلسة حوار مع مديرية التربية');
  await staff.fill('[name="campaign.activities[0].people_reached"]', '25');
  await screen(staff, '06-campaign-edit');
  await submit(staff, `form[action="/networking/campaigns/${campaign}/edit"]`, /done=campaign_saved/);
  await submit(staff, `form[action="/networking/campaigns/${campaign}/launch"]`, /done=campaign_launch/);
  const outcomeForm = `form[action="/networking/campaigns/${campaign}/outcomes"]`;
  await staff.selectOption(`${outcomeForm} [name="outcome.kind"]`, 'OUTCOME_KIND_DECISION_OBTAINED');
  await staff.fill(`${outcomeForm} [name="outcome.description.ar"]`, 'وافقت المديرية على خطة تنظيف شهرية');
  await staff.fill(`${outcomeForm} [name="outcome.evidence[0].url"]`, 'https://example.org/decision');
  await submit(staff, outcomeForm, /done=outcome_recorded/);
  expect((await staff.locator('main').innerText()).includes('وافقت المديرية'), 'the outcome recorded');
  await screen(staff, '06-campaign');
  // Its outcome corrected, a piece of evidence added.
  await Promise.all([staff.waitForURL(/\/outcomes\/.+\/edit/), staff.click(`a[href^="/networking/campaigns/${campaign}/outcomes/"]`)]);
  await staff.fill('[name="outcome.evidence[1].description.ar"]', 'محضر اجتماع المديرية');
  await screen(staff, '06-campaign-outcome-edit');
  await submit(staff, 'form[action$="/edit"]', /done=campaign_outcome_saved/);
  expect((await staff.locator('main').innerText()).includes('محضر اجتماع المديرية'), 'the evidence added');
  await staff.goto(`${BASE}/coworking`);
  await screen(staff, '07-coworking');
  // --- a new space, then in the calendar.
  await staff.goto(`${BASE}/coworking/spaces/new?branch=raqqa`);
  await staff.selectOption('[name="space.kind"]', 'SPACE_KIND_TRAINING_HALL');
  await staff.fill('[name="space.name.ar"]', 'قاعة الخابور');
  await staff.fill('[name="space.capacity"]', '30');
  // Saturday with a lunch break, Thursday a short day, Friday closed.
  await staff.fill('[name="hours.WEEKDAY_SATURDAY.0.closes"]', '12:00');
  await staff.fill('[name="hours.WEEKDAY_SATURDAY.1.opens"]', '13:00');
  await staff.fill('[name="hours.WEEKDAY_SATURDAY.1.closes"]', '17:00');
  await staff.fill('[name="hours.WEEKDAY_THURSDAY.0.closes"]', '12:00');
  await screen(staff, '07-space-form');
  await submit(staff, 'form[action="/coworking/spaces/new"]', /done=space_created/);
  const calendar = await staff.locator('table.calendar').innerText();
  expect(calendar.includes('قاعة الخابور'), 'the new space in the calendar');
  expect(calendar.includes('١٣:٠٠–١٧:٠٠'), "Saturday's second stretch in the calendar");
  await screen(staff, '07-coworking-hours');
  // Closed for two days: on its page, then in the calendar.
  await Promise.all([staff.waitForURL(/\/coworking\/spaces\/.+\/edit/), staff.click('th:has-text("قاعة الخابور") a[href$="/edit"]')]);
  const closureForm = 'form[action$="/closures"]';
  await staff.fill(`${closureForm} [name="closure.first_day"]`, day(1));
  await staff.fill(`${closureForm} [name="closure.last_day"]`, day(2));
  await staff.fill(`${closureForm} [name="closure.reason.ar"]`, 'صيانة التكييف');
  await submit(staff, closureForm, /done=closure_added/);
  await screen(staff, '07-space-closures');
  await staff.goto(`${BASE}/coworking?branch=raqqa`);
  expect((await staff.locator('table.calendar').innerText()).includes('صيانة التكييف'), 'the closure in the calendar');
  await screen(staff, '07-coworking-closed');
  // A projector for the branch, then a weekly series of three bookings of
  // the new hall with it (a weekday it is open from 14:00, past its
  // closure).
  await staff.goto(`${BASE}/coworking/equipment/new?branch=raqqa`);
  await staff.selectOption('[name="equipment.kind"]', 'EQUIPMENT_KIND_PROJECTOR');
  await staff.fill('[name="equipment.name.ar"]', 'جهاز العرض المحمول');
  await staff.check('[name="equipment.bookable"]');
  await submit(staff, 'form[action="/coworking/equipment/new"]', /done=equipment_created/);
  expect((await staff.locator('main').innerText()).includes('جهاز العرض المحمول'), 'the projector listed');
  await screen(staff, '07-equipment');
  let seriesDay = 3;
  while ([4, 5].includes(new Date(today.getTime() + seriesDay * 86400000).getUTCDay())) seriesDay += 1;
  await staff.goto(`${BASE}/coworking?branch=raqqa`);
  const bookForm = 'form[action="/coworking/bookings"]';
  await staff.selectOption(`${bookForm} [name="booking.space_id"]`, { label: 'قاعة الخابور' });
  await staff.fill(`${bookForm} [name="booking.date"]`, day(seriesDay));
  await staff.fill(`${bookForm} [name="booking.from"]`, '14:00');
  await staff.fill(`${bookForm} [name="booking.until"]`, '15:30');
  await staff.selectOption(`${bookForm} [name="booking.purpose"]`, { index: 1 });
  await staff.fill(`${bookForm} [name="booking.expected_attendance"]`, '12');
  await staff.check(`${bookForm} input[name^="booking.equipment."] >> nth=0`);
  await staff.selectOption(`${bookForm} [name="booking.repeat"]`, 'FREQUENCY_WEEKLY');
  await staff.fill(`${bookForm} [name="booking.repeat_count"]`, '3');
  await submit(staff, bookForm, /\/coworking\/series\/.+done=series_booked/);
  expect((await staff.locator('main').innerText()).includes('جهاز العرض المحمول'), 'the series holds the projector');
  await screen(staff, '07-booking-series');
  // --- the library: a guide added with its file and its sensitivity
  // level (one multipart form, the file streamed on), published, then
  // found by another form of an Arabic word.
  await staff.goto(`${BASE}/library/new`);
  await staff.fill('[name="item.title.ar"]', 'دليل المناصرة المجتمعية');
  await staff.fill('[name="item.title.en"]', 'Community advocacy guide');
  await staff.fill('[name="item.summary.ar"]', 'خطوات عملية لتنظيم حملات المناصرة على مستوى الحي.');
  await staff.selectOption('[name="item.kind"]', 'ITEM_KIND_GUIDE');
  await staff.selectOption('[name="item.visibility"]', 'VISIBILITY_PARTNERS');
  await staff.selectOption('[name="item.source.kind"]', 'SOURCE_KIND_CENTER');
  await staff.setInputFiles('input[name="file"]', {
    name: 'دليل-المناصرة.pdf',
    mimeType: 'application/pdf',
    buffer: Buffer.from('%PDF-1.4\n% a small guide\ntrailer <<>>\n%%EOF\n'),
  });
  await screen(staff, '08-library-add');
  await submit(staff, 'form[action="/library/new"]', /\/library\/items\/.+done=lib_added/);
  const guide = idFrom(staff.url(), '/library/items/');
  expect((await staff.locator('main').innerText()).includes('دليل-المناصرة.pdf'), 'the file, its Arabic name kept');
  await submit(staff, `form[action="/library/items/${guide}/publish"]`, /done=lib_publish/);
  await screen(staff, '08-library-item');
  // A second edition of its file: the file's versions.
  await Promise.all([staff.waitForURL(/\/versions/), staff.click('a[href$="/versions"]')]);
  await staff.setInputFiles('input[name="file"]', {
    name: 'دليل-المناصرة-٢.pdf',
    mimeType: 'application/pdf',
    buffer: Buffer.from('%PDF-1.4\n% the second edition\ntrailer <<>>\n%%EOF\n'),
  });
  await submit(staff, 'form[action$="/versions"]', /done=lib_version_added/);
  expect((await staff.locator('table').first().innerText()).includes('دليل-المناصرة-٢.pdf'), 'the new version');
  await screen(staff, '08-library-versions');
  // Published, it is edited in its presentation and sensitivity only.
  await staff.goto(`${BASE}/library/items/${guide}/edit`);
  expect(await staff.locator('[name="item.kind"]').count() === 0, 'a published item keeps its kind');
  await staff.fill('[name="item.summary.ar"]', 'خطوات عملية لتنظيم حملات المناصرة على مستوى الحي والمدينة.');
  await screen(staff, '08-library-edit');
  await submit(staff, `form[action="/library/items/${guide}/edit"]`, /done=lib_saved/);
  await staff.goto(`${BASE}/library?q=${encodeURIComponent('مناصرة')}`);
  expect(await staff.locator(`a[href="/library/items/${guide}"]`).count() === 1, 'found in Arabic');
  await screen(staff, '08-library-search');
  await staff.goto(`${BASE}/library/usage`);
  await screen(staff, '08-library-usage');
  // --- the impact table: every figure computed, split by gender.
  await staff.goto(`${BASE}/impact?by=DIMENSION_GENDER`);
  expect(await staff.locator('figure svg.chart rect').count() > 0, 'a chart over time');
  await screen(staff, '09-impact');
  // --- the admin shares a program and an indicator with a donor.
  await admin.goto(`${BASE}/impact/shares`);
  const shareForm = 'form[action="/impact/shares/new"]';
  await admin.selectOption(`${shareForm} [name="share_agreement.donor_id"]`, 'echo');
  await admin.check(`${shareForm} input[name="share_agreement.program_ids"] >> nth=0`);
  await admin.check('#sindicator-trainees');
  await admin.fill(`${shareForm} [name="share_agreement.purpose.ar"]`, 'التقرير السنوي للمانح');
  await screen(admin, '09-shares-new');
  await submit(admin, shareForm, /done=share_created/);
  expect((await admin.locator('main').innerText()).includes('التقرير السنوي للمانح'), 'the agreement listed');
  await staff.goto(`${BASE}/impact/shares`);
  await screen(staff, '09-shares');
  // --- the admin's sharing settings: the center's IATI identity, a public
  // indicator, a published program, a branch's p-code.
  await admin.goto(`${BASE}/impact/shares/settings`);
  const settingsForm = 'form[action="/impact/shares/settings"]';
  await admin.fill(`${settingsForm} [name="settings.iati_identifier"]`, 'SY-RC-1234');
  await admin.fill(`${settingsForm} [name="settings.organisation_name.ar"]`, 'مركز دعم المجتمع المدني');
  await admin.fill(`${settingsForm} [name="settings.organisation_name.en"]`, 'Civil Society Support Center');
  await admin.check('#pindicator-trainees');
  await admin.check(`${settingsForm} input[name="settings.published_program_ids"] >> nth=0`);
  await admin.fill(`${settingsForm} [name='settings.branch_admin1_pcodes["raqqa"]']`, 'SY11');
  await screen(admin, '09-sharing-settings');
  await submit(admin, settingsForm, /done=sharing_settings_saved/);
  await admin.goto(`${BASE}/impact/shares/settings`);
  const published = await admin.locator(`${settingsForm} a[href^="/public/"]`).first().getAttribute('href');
  // --- the public profile and the published IATI file, nobody signed in.
  const publicContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ar' });
  const reader = await publicContext.newPage();
  await reader.goto(`${BASE}/profile`);
  expect((await reader.locator('main').innerText()).includes('المتدربون'), 'the public figures');
  await screen(reader, '11-public-profile');
  const file = await reader.request.get(`${BASE}${published}`);
  expect(file.status() === 200 && (await file.text()).includes('SY-RC-1234'), 'the published IATI file');
  const again = await reader.request.get(`${BASE}${published}`, { headers: { 'if-none-match': file.headers().etag } });
  expect(again.status() === 304, 'not modified with its ETag');
  // A consultation asked for on the public form, then in staff's list.
  await reader.goto(`${BASE}/consult`);
  await reader.fill('[name="request.requester_name"]', 'سلمى الأحمد');
  await reader.fill('[name="request.contact"]', 'salma@example.org');
  await reader.fill('[name="request.organization_name"]', 'مبادرة أصوات الحي');
  await reader.fill('[name="request.description"]', 'نحتاج مساعدة في إعداد نظام مالي بسيط لمبادرتنا.');
  await screen(reader, '11-consult');
  await submit(reader, 'form[action="/consult"]');
  expect(await reader.locator('section.notice').count() === 1, 'the thank-you and its receipt');
  await screen(reader, '11-consult-thanks');
  await staff.goto(`${BASE}/consultations/requests`);
  expect((await staff.locator('main').innerText()).includes('مبادرة أصوات الحي'), 'staff see the request');
  await screen(staff, '04-consultation-requests');
  // --- an erasure: asked, confirmed on a second page, then its receipt
  // and the list of requests.
  await staff.goto(`${BASE}/admin/people`);
  await staff.fill('form[action="/admin/people"] [name="person.full_name"]', 'مشارك طلب المحو');
  await staff.selectOption('form[action="/admin/people"] [name="person.gender"]', 'GENDER_FEMALE');
  await staff.selectOption('form[action="/admin/people"] [name="person.age_band"]', 'AGE_BAND_25_34');
  await staff.selectOption('form[action="/admin/people"] [name="person.legal_basis"]', 'LEGAL_BASIS_CONSENT');
  await staff.fill('form[action="/admin/people"] [name="person.processing_purpose"]', 'مشاركة في التدريب');
  await submit(staff, 'form[method="post"][action="/admin/people"]', /\/admin\/people\/.+done=person_added/);
  const erasedPerson = idFrom(staff.url(), '/admin/people/');
  const eraseForm = `form[action="/admin/people/${erasedPerson}/erase"]`;
  await staff.selectOption(`${eraseForm} [name="legal_ground"]`, 'ERASURE_GROUND_CONSENT_WITHDRAWN');
  await staff.fill(`${eraseForm} [name="reason"]`, 'سحبت موافقتها');
  await submit(staff, eraseForm);
  expect(await staff.locator(`${eraseForm} input[name="confirm"]`).count() === 1, 'a confirmation step');
  await screen(staff, '10-erasure-confirm');
  await submit(staff, eraseForm, /\/admin\/erasures\/.+done=person_erased/);
  const receipt = new URL(staff.url()).pathname;
  for (let i = 0; i < 50 && !(await staff.locator('dl.facts').innerText()).includes('مكتمل'); i += 1) {
    await staff.waitForTimeout(200);
    await staff.goto(`${BASE}${receipt}`);
  }
  expect((await staff.locator('dl.facts').innerText()).includes('مكتمل'), 'every service confirmed');
  await screen(staff, '10-erasure-receipt');
  await staff.goto(`${BASE}/admin/erasures`);
  expect(await staff.locator(`a[href="${receipt}"]`).count() === 1, 'the list names the receipt');
  await screen(staff, '10-erasures');

  // --- the operator's administration.
  const operator = await signIn('operator', 'dev-operator');
  await operator.goto(`${BASE}/admin/tenants`);
  await screen(operator, '10-tenants');
  await operator.goto(`${BASE}/admin/dead-letters`);
  await screen(operator, '10-dead-letters');
  await operator.goto(`${BASE}/admin/donors`);
  const donorForm = 'form[action="/admin/donors"]';
  await operator.fill(`${donorForm} [name="donor.id"]`, 'giz-syria');
  await operator.fill(`${donorForm} [name="donor.name.ar"]`, 'الوكالة الألمانية للتعاون الدولي');
  await operator.fill(`${donorForm} [name="donor.name.en"]`, 'GIZ');
  await submit(operator, donorForm, /done=donor_registered/);
  expect((await operator.locator('main').innerText()).includes('الوكالة الألمانية للتعاون الدولي'), 'the donor listed');
  await screen(operator, '10-donors');
} catch (e) {
  problems.push(`flow stopped: ${e.stack || e}`);
  if (last) {
    const problemsShown = await last.locator('.problems').allInnerTexts().catch(() => []);
    problems.push(`last page ${last.url()}: ${problemsShown.join(' / ')}`);
    if (SHOTS) await last.screenshot({ path: path.join(SHOTS, 'failure.png'), fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}

console.log(`${screens} screens checked`);
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('browser flow: ok');
