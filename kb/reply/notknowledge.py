"""Questions no knowledge base answers with facts, whatever it contains.

The library holds the rules in force. It does not know what next year's rules will be, whether a rumour is
true, where a caller's own application stands, what is left today (beds, appointment slots, stock), or how a
court would rule; reading a standard answer to such a question is the confident wrong reply an agent must
never give. These are registered and transferred (with the office and references), never answered.
"""

from __future__ import annotations

import re

_KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("来电人询问的是政策调整预期，知识库只收录现行政策",
     # 明年满八十 is the caller's own age next year, not a forecast of the rules.
     re.compile(r"(?:明年|后年|下半年)(?!就?才?满|[\d一二三四五六七八九十]+岁)|以后会不会|将来|"
                r"会不会(?:涨|调|提高|取消|改|变)|能涨|涨不涨|涨点|涨多少|什么时候涨|要涨|(?<![协学工])会变(?!更)|"
                # "是不是快取消了", "过两年要并到低保里": a change not yet made
                r"快(?:要)?取消|要取消了|(?:是不是|会不会)要?(?:改成|并到|合并|停发|作废)|过(?:两|几|一两|\d)年|"
                r"以后.{0,4}(?:作废|取消|不给|没了|停了)|内部消息")),
    ("来电人询问的是传闻是否属实，知识库只收录现行政策",
     re.compile(r"听说.{0,20}(?:真的|真事|是不是|吗)|网上说|有人说|传言|谣言|有这事|有这回事")),
    ("来电人询问的是本人事项的办理进度，需要查询业务系统",
     re.compile(r"批了没|批下来没|批没批|审到哪|办到哪|(?<![查看询])进度|结果出来没|出来没有|排到第几|排到多少|帮.{0,2}查|查查|查一下|"
                r"啥时候打到|什么时候打到|什么时候能批|"
                # a delay or a change in the caller's own case: "这都一个月了人怎么还没来", "帮忙催一下"
                r"催(?:一下|一催|催|办)|(?:怎么|为什么|为啥)还没(?:来|上门|露面|批|办好|办下来|下来|消息|动静)|"
                r"(?:到现在|至今)(?:也|都|还)?(?:没|不见)|这都.{0,4}(?:天|月|年)了|"
                r"(?:什么时候|哪天)(?:能)?(?:到|打到|转到)(?:我|我们)(?:的)?(?:账|卡)|"
                r"这个月(?:怎么|为什么|为啥)(?:少了|变少|没发|停了)|(?:派|转|排)(?:到|在)哪|"
                r"还在.{0,10}(?:名录|名单)|是不是已经被")),
    ("来电人询问的是实时情况（名额、床位、号源、库存），需要向办理单位核实",
     re.compile(r"现在还有|还剩几|还有没有.{0,6}(?:床位|名额|号|货)|现货|还有名额|人多(?:不多|吗)|排队的人|下一期|还能约上|约得上|今天.{0,6}(?:开奖|号码|还有)|开的什么号|开的啥号")),
    ("来电人请求对个案作出法律判断，知识库不能代替法院或律师",
     re.compile(r"算不算(?:违法|犯法|受贿|诈骗|违规|犯罪)|能判|会判|怎么判|判给|判几年|判多少|赔.{0,3}多少|赔偿多少|准话|"
                r"打官司.{0,8}(?:能赢|会赢|赢不赢|输不输|能不能赢|胜算|有把握)|"
                r"告.{0,8}(?:能赢|会赢|赢吗)|能赢吗|谁有理|谁对谁错")),
    ("来电人请求评价或推荐具体机构，知识库不作评价，可告知名录查询途径",
     # "那些托养机构，哪家口碑好一点": the library lists rules and offices, never rankings of them.
     re.compile(r"哪家(?:好|强|靠谱|口碑|便宜|服务好|更好|比较好|最好|条件好)|口碑|推荐(?:一|个|家|下|几)|靠不靠谱|靠谱吗|"
                r"哪(?:个|家)(?:养老院|敬老院|机构|殡仪馆|公墓|墓地)(?:最|比较|更)?好")),
    ("来电人闲聊热线或机关工作人员自身情况，不属于政策咨询",
     re.compile(r"(?:你们|接电话的|上班的|民政局的人|残联的人|工作人员).{0,8}"
                r"(?:累不累|辛苦(?:吗|不)|放几天假|过年放|工资(?:高|多少)|是不是也都|(?:一|1)天得?接多少)")),
    ("来电人投诉具体工作人员，按投诉件转办，不由知识库答复",
     # "他叫什么名字，我要投诉他": a named person's conduct is a complaint to hand over, not a rule to read out.
     re.compile(r"(?:叫|姓)什么(?:名字?)?.{0,8}投诉|投诉(?:她|他)|点名投诉|(?:她|他)叫什么(?:名字?)?")),
]


def not_knowledge(question: str) -> str | None:
    """Why the question (written form) is outside what any standard answer can answer, or None."""
    for why, pattern in _KINDS:
        if pattern.search(question):
            return why
    return None
